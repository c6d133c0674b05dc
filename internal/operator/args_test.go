package operator_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

func TestArgsString(t *testing.T) {
	t.Parallel()
	a := operator.Args{"s": "text", "n": 3, "b": true, "nil": nil, "empty": ""}
	tests := []struct{ name, def, want string }{
		{"s", "d", "text"},
		{"n", "d", "3"},
		{"b", "d", "true"},
		{"nil", "d", "d"},
		{"missing", "d", "d"},
		{"empty", "d", ""},
	}
	for _, tt := range tests {
		if got := a.String(tt.name, tt.def); got != tt.want {
			t.Errorf("String(%q, %q) = %q, want %q", tt.name, tt.def, got, tt.want)
		}
	}
}

func TestArgsBool(t *testing.T) {
	t.Parallel()
	a := operator.Args{"t": true, "f": false, "st": "true", "sf": "0", "bad": "maybe", "n": 1}
	tests := []struct {
		name      string
		def, want bool
	}{
		{"t", false, true},
		{"f", true, false},
		{"st", false, true},
		{"sf", true, false},
		{"bad", true, true},
		{"bad", false, false},
		{"n", true, true},
		{"missing", true, true},
		{"missing", false, false},
	}
	for _, tt := range tests {
		if got := a.Bool(tt.name, tt.def); got != tt.want {
			t.Errorf("Bool(%q, %v) = %v, want %v", tt.name, tt.def, got, tt.want)
		}
	}
}

func TestArgsInt(t *testing.T) {
	t.Parallel()
	a := operator.Args{"i": 7, "i64": int64(8), "f": 9.0, "s": "10", "bad": "ten", "b": true}
	tests := []struct {
		name      string
		def, want int
	}{
		{"i", -1, 7}, {"i64", -1, 8}, {"f", -1, 9}, {"s", -1, 10}, {"bad", -1, -1}, {"b", -1, -1}, {"missing", 42, 42},
	}
	for _, tt := range tests {
		if got := a.Int(tt.name, tt.def); got != tt.want {
			t.Errorf("Int(%q, %d) = %d, want %d", tt.name, tt.def, got, tt.want)
		}
	}
}

func TestArgsStrings(t *testing.T) {
	t.Parallel()
	a := operator.Args{"list": []any{"a", 1, true}, "strs": []string{"x", "y"}, "one": "solo", "num": 5, "nil": nil, "empty": []any{}}
	tests := []struct {
		name string
		want []string
	}{
		{"list", []string{"a", "1", "true"}},
		{"strs", []string{"x", "y"}},
		{"one", []string{"solo"}},
		{"num", []string{"5"}},
		{"nil", nil},
		{"missing", nil},
		{"empty", []string{}},
	}
	for _, tt := range tests {
		if got := a.Strings(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Strings(%q) = %#v, want %#v", tt.name, got, tt.want)
		}
	}
}

func TestArgsInts(t *testing.T) {
	t.Parallel()
	a := operator.Args{"list": []any{1, int64(2), 3.0, "4"}, "one": 99, "nil": nil, "empty": []any{}}
	tests := []struct {
		name   string
		want   []int
		wantOK bool
	}{
		{"list", []int{1, 2, 3, 4}, true},
		{"one", []int{99}, true},
		{"empty", []int{}, true},
		{"nil", nil, false},
		{"missing", nil, false},
	}
	for _, tt := range tests {
		got, ok := a.Ints(tt.name)
		if ok != tt.wantOK || !slices.Equal(got, tt.want) {
			t.Errorf("Ints(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestArgsStringMap(t *testing.T) {
	t.Parallel()
	a := operator.Args{"ss": map[string]string{"a": "1"}, "sa": map[string]any{"a": 1, "b": "x"}, "list": []any{"a"}}
	if got := a.StringMap("ss"); !reflect.DeepEqual(got, map[string]string{"a": "1"}) {
		t.Errorf("StringMap(ss) = %v", got)
	}
	if got := a.StringMap("sa"); !reflect.DeepEqual(got, map[string]string{"a": "1", "b": "x"}) {
		t.Errorf("StringMap(sa) = %v", got)
	}
	if got := a.StringMap("list"); got != nil {
		t.Errorf("StringMap(list) = %v, want nil", got)
	}
	if got := a.StringMap("missing"); got != nil {
		t.Errorf("StringMap(missing) = %v, want nil", got)
	}
}

func TestArgsDuration(t *testing.T) {
	t.Parallel()
	const def = 7 * time.Minute
	tests := []struct {
		name string
		v    any
		want time.Duration
	}{
		{"int seconds", 30, 30 * time.Second},
		{"float seconds", 1.5, 1500 * time.Millisecond},
		{"go syntax", "1h30m", 90 * time.Minute},
		{"go syntax millis", "250ms", 250 * time.Millisecond},
		{"garbage", "soon", def},
		{"wrong type", true, def},
		{"absent", nil, def},
	}
	for _, tt := range tests {
		if got := (operator.Args{"d": tt.v}).Duration("d", def); got != tt.want {
			t.Errorf("%s: Duration(%#v) = %s, want %s", tt.name, tt.v, got, tt.want)
		}
	}
}

// TestArgsDurationDocumentedForms checks the forms Duration's comment
// promises ("Nd" or seconds) as DAG files write them: as strings.
func TestArgsDurationDocumentedForms(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"1d": 24 * time.Hour, "1d12h": 36 * time.Hour, "90": 90 * time.Second} {
		if got := (operator.Args{"d": v}).Duration("d", 0); got != want {
			t.Errorf("Duration(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestRegistrySpecs(t *testing.T) {
	t.Parallel()
	r := all.Registry()
	specs := r.Specs()
	if len(specs) != len(r) {
		t.Fatalf("Specs has %d entries for %d operators", len(specs), len(r))
	}
	for _, name := range []string{"bash", "python", "empty"} {
		f, ok := r[name]
		if !ok {
			t.Errorf("registry lacks %s", name)
			continue
		}
		if f.Spec.Name != name || specs[name].Name != name {
			t.Errorf("%s is registered with spec %q", name, f.Spec.Name)
		}
		if f.New() == nil {
			t.Errorf("%s: New returned nil", name)
		}
	}
	// Each call returns a fresh registry: changing one leaves the next alone.
	delete(r, "bash")
	if _, ok := all.Registry()["bash"]; !ok {
		t.Error("all.Registry shares its map between calls")
	}
}
