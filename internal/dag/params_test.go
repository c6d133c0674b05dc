package dag

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestResolveParams(t *testing.T) {
	d, err := Parse("p.yaml", []byte(`dag_id: p
params:
  input: {type: string, default: /data/in}
  partitions: {type: integer, default: 8, enum: [4, 8, 16]}
  ratio: {type: number, default: 0.5}
  verbose: {type: boolean, default: false}
  files: {type: array, default: [a, b]}
  spark_conf: {type: object, default: {spark.executor.memory: 2g}}
  anything: 42
  mode: {enum: [fast, slow], default: fast}
tasks: [{id: a, operator: empty}]
`), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]any{
		"input": "/data/in", "partitions": 8, "ratio": 0.5, "verbose": false,
		"files": []any{"a", "b"}, "spark_conf": map[string]any{"spark.executor.memory": "2g"},
		"anything": 42, "mode": "fast",
	}
	with := func(kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range defaults {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		conf    string // JSON, as given to `dags trigger --conf`
		want    map[string]any
		wantErr []string
	}{
		{name: "defaults", conf: `{}`, want: defaults},
		{name: "nil conf", conf: `null`, want: defaults},
		{name: "override", conf: `{"input": "/other", "partitions": 16, "ratio": 2, "verbose": true, "files": [], "anything": "text"}`,
			want: with("input", "/other", "partitions", 16, "ratio", float64(2), "verbose", true, "files", []any{}, "anything", "text")},
		{name: "unknown keys pass through but are not params", conf: `{"extra": 1}`, want: defaults},
		{name: "whole float is an integer", conf: `{"partitions": 4.0}`, want: with("partitions", 4)},
		{name: "wrong types", conf: `{"input": 3, "partitions": "two", "verbose": "yes", "files": "a", "spark_conf": [1], "ratio": "x"}`, wantErr: []string{
			`param "files": expected a list, got string "a"`,
			`param "input": expected a string, got integer 3`,
			`param "partitions": expected an integer, got string "two"`,
			`param "ratio": expected a number, got string "x"`,
			`param "spark_conf": expected a mapping, got a list`,
			`param "verbose": expected a boolean (true or false), got string "yes"`,
		}},
		{name: "fraction is not an integer", conf: `{"partitions": 4.5}`, wantErr: []string{
			`param "partitions": expected an integer, got number 4.5`,
		}},
		{name: "enum", conf: `{"partitions": 5, "mode": "medium"}`, wantErr: []string{
			`param "mode": "medium" is not one of the allowed values: "fast", "slow"`,
			`param "partitions": 5 is not one of the allowed values: 4, 8, 16`,
		}},
		{name: "null for typed param", conf: `{"input": null}`, wantErr: []string{
			`param "input": expected a string, got null`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conf map[string]any
			if err := json.Unmarshal([]byte(tt.conf), &conf); err != nil {
				t.Fatal(err)
			}
			got, err := d.ResolveParams(conf)
			if tt.wantErr != nil {
				if err == nil || err.Error() != strings.Join(tt.wantErr, "\n") {
					t.Fatalf("err = %v\nwant %s", err, strings.Join(tt.wantErr, "\n"))
				}
				if got != nil {
					t.Errorf("got params %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}

	// The result must not alias the DAG's defaults.
	got, _ := d.ResolveParams(nil)
	got["files"].([]any)[0] = "changed"
	got["spark_conf"].(map[string]any)["x"] = 1
	if d.Params["files"].Default.([]any)[0] != "a" || len(d.Params["spark_conf"].Default.(map[string]any)) != 1 {
		t.Errorf("ResolveParams result aliases the DAG's defaults")
	}
}

func TestResolveParamsRequired(t *testing.T) {
	d, err := Parse("p.yaml", []byte("dag_id: p\nparams:\n  day: {type: string}\ntasks: [{id: a, operator: empty}]\n"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ResolveParams(nil); err == nil || err.Error() != `param "day": no value given and no default (expected a string)` {
		t.Errorf("err = %v", err)
	}
	got, err := d.ResolveParams(map[string]any{"day": "2026-01-01"})
	if err != nil || got["day"] != "2026-01-01" {
		t.Errorf("got %v, %v", got, err)
	}
}

// TestResolveParamsEnumWithoutDefault: a param with an enum and no default
// needs a value, as a typed one does; it used to resolve to null, which the
// same resolution refuses when given (found by FuzzCheckParams).
func TestResolveParamsEnumWithoutDefault(t *testing.T) {
	d, err := Parse("p.yaml", []byte("dag_id: p\nparams:\n  mode: {enum: [fast, slow]}\ntasks: [{id: a, operator: empty}]\n"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.ResolveParams(nil); err == nil || !strings.Contains(err.Error(), `param "mode": no value given and no default: null is not one of the allowed values`) {
		t.Errorf("ResolveParams(nil) = %v, %v; want the missing value refused", got, err)
	}
	if got, err := d.ResolveParams(map[string]any{"mode": "slow"}); err != nil || got["mode"] != "slow" {
		t.Errorf("got %v, %v", got, err)
	}
}
