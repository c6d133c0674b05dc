package operator_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

var fieldsSpec = dag.OperatorSpec{Name: "t", Fields: []dag.FieldSpec{
	{Name: "s", Kind: dag.FieldString, Default: "def"},
	{Name: "b", Kind: dag.FieldBool, Default: true},
	{Name: "i", Kind: dag.FieldInt, Default: 3},
	{Name: "d", Kind: dag.FieldDuration, Default: 500 * time.Millisecond},
	{Name: "l", Kind: dag.FieldStringList, Default: []string{"x"}},
	{Name: "il", Kind: dag.FieldIntList, Default: []int{99}},
	{Name: "m", Kind: dag.FieldStringMap, Default: map[string]string{"k": "v"}},
	{Name: "none", Kind: dag.FieldString},
}}

// TestFieldsApplyTheSpecDefault: an absent (or null) field reads as the
// default declared in the spec; a given one, even empty or false, wins.
func TestFieldsApplyTheSpecDefault(t *testing.T) {
	t.Parallel()
	absent := operator.FieldsOf(fieldsSpec, map[string]any{"s": nil})
	if got := absent.String("s"); got != "def" {
		t.Errorf("String = %q, want the default", got)
	}
	if !absent.Bool("b") || absent.Int("i") != 3 || absent.Duration("d") != 500*time.Millisecond {
		t.Errorf("Bool, Int, Duration = %v, %d, %s; want the defaults", absent.Bool("b"), absent.Int("i"), absent.Duration("d"))
	}
	if got := absent.Strings("l"); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("Strings = %v", got)
	}
	if got := absent.Ints("il"); !reflect.DeepEqual(got, []int{99}) {
		t.Errorf("Ints = %v", got)
	}
	m := absent.StringMap("m")
	if !reflect.DeepEqual(m, map[string]string{"k": "v"}) {
		t.Errorf("StringMap = %v", m)
	}
	m["k"] = "changed" // a copy: the spec's default stays
	if absent.StringMap("m")["k"] != "v" {
		t.Error("a caller changed the spec's default through StringMap")
	}
	if absent.String("none") != "" || absent.String("undeclared") != "" || absent.Int("undeclared") != 0 {
		t.Error("a field without a default must read as its zero value")
	}

	given := operator.FieldsOf(fieldsSpec, map[string]any{"s": "", "b": false, "i": 0, "d": "2s",
		"l": []any{}, "il": []any{}, "m": map[string]any{}})
	if given.String("s") != "" || given.Bool("b") || given.Int("i") != 0 || given.Duration("d") != 2*time.Second {
		t.Error("a given value must win over the default")
	}
	if len(given.Strings("l")) != 0 || len(given.Ints("il")) != 0 || len(given.StringMap("m")) != 0 {
		t.Error("a given empty list or map must win over the default")
	}
}

// TestBuiltinDefaultsInTheirSpecs: the defaults the built-in operators
// apply are declared in their specs, with the right types.
func TestBuiltinDefaultsInTheirSpecs(t *testing.T) {
	t.Parallel()
	r := all.Registry()
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"bash":         {"skip_on_exit_code": []int{99}, "do_xcom_push": true},
		"python":       {"python": "python3", "append_env": true, "do_xcom_push": true, "cwd": "."},
		"spark_submit": {"conn_id": "spark_default", "status_poll_interval": 500 * time.Millisecond},
		"spark_rest":   {"conn_id": "spark_default", "status_poll_interval": 500 * time.Millisecond, "spark_version": "4.0.1"},
	}
	for op, fields := range want {
		f := operator.FieldsOf(r[op].Spec, nil)
		for name, v := range fields {
			var got any
			switch v.(type) {
			case string:
				got = f.String(name)
			case bool:
				got = f.Bool(name)
			case time.Duration:
				got = f.Duration(name)
			case []int:
				got = f.Ints(name)
			}
			if !reflect.DeepEqual(got, v) {
				t.Errorf("%s.%s reads %v when absent, want %v", op, name, got, v)
			}
		}
	}
}
