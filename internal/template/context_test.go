package template

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestVariablesAreLoadedLazilyOnce(t *testing.T) {
	calls := map[string]int{}
	info := testInfo()
	lookup := info.Variables
	info.Variables = func(key string) (string, error) {
		calls[key]++
		return lookup(key)
	}
	ctx := NewContext(info)
	if len(calls) != 0 {
		t.Fatalf("NewContext looked up variables: %v", calls)
	}
	for _, src := range []string{"{{ ds }}", "{{ var }} {{ var.value }} {{ var.json }}"} {
		if _, err := Render(src, ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(calls) != 0 {
		t.Fatalf("rendering without var.value.KEY looked up variables: %v", calls)
	}
	for range 3 {
		if got, err := Render("{{ var.value.env }}{{ var.value['env'] }}", ctx); err != nil || got != "prodprod" {
			t.Fatalf("Render = %q, %v", got, err)
		}
	}
	if _, err := Render("{{ var.value.nope }}", ctx); err == nil {
		t.Fatal("missing variable rendered")
	}
	if _, err := Render("{{ var.value.nope }}", ctx); err == nil {
		t.Fatal("missing variable rendered")
	}
	want := map[string]int{"env": 1, "nope": 1}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("lookups = %v, want %v", calls, want)
	}
}

func TestMissingCallbacks(t *testing.T) {
	ctx := NewContext(Info{DagID: "d", TaskID: "t"})
	tests := []struct{ src, want string }{
		{"{{ var.value.x }}", "variables are not available"},
		{"{{ ti.xcom_pull('a') }}", "XComs are not available"},
		{"{{ params.x }}", "attribute 'x' not found"},
		{"{{ dag_run.conf.x }}", "attribute 'x' not found"},
	}
	for _, tt := range tests {
		_, err := Render(tt.src, ctx)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Render(%q) error = %v, want one containing %q", tt.src, err, tt.want)
		}
	}
	if got, err := Render("{{ params | length }}{{ dag_run.conf | length }}", ctx); err != nil || got != "00" {
		t.Errorf("nil Params and Conf: Render = %q, %v; want empty maps", got, err)
	}
}

func TestXComPull(t *testing.T) {
	type call struct{ taskID, key string }
	var calls []call
	info := testInfo()
	info.XComPull = func(taskID, key string) (any, error) {
		calls = append(calls, call{taskID, key})
		if taskID == "missing" {
			return nil, nil
		}
		return taskID + ":" + key, nil
	}
	ctx := NewContext(info)
	tests := []struct {
		src, want string
		calls     []call
	}{
		{"{{ ti.xcom_pull('a') }}", "a:return_value", []call{{"a", "return_value"}}},
		{"{{ ti.xcom_pull(task_ids='a') }}", "a:return_value", []call{{"a", "return_value"}}},
		{"{{ ti.xcom_pull('a', key='k') }}", "a:k", []call{{"a", "k"}}},
		{"{{ ti.xcom_pull('a', None, 'k') }}", "a:k", []call{{"a", "k"}}},
		{"{{ task_instance.xcom_pull(task_ids='a', key=None) }}", "a:return_value", []call{{"a", "return_value"}}},
		{"{{ ti.xcom_pull(task_ids=['a', 'missing', 'b']) }}", "['a:return_value', None, 'b:return_value']",
			[]call{{"a", "return_value"}, {"missing", "return_value"}, {"b", "return_value"}}},
		{"{{ ti.xcom_pull(['a', 'missing'], default='-') | join(' ') }}", "a:return_value -",
			[]call{{"a", "return_value"}, {"missing", "return_value"}}},
		{"{{ ti.xcom_pull(task_ids=[]) | length }}", "0", nil},
	}
	for _, tt := range tests {
		calls = nil
		got, err := Render(tt.src, ctx)
		if err != nil {
			t.Errorf("Render(%q): %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
		}
		if !reflect.DeepEqual(calls, tt.calls) {
			t.Errorf("Render(%q) pulled %v, want %v", tt.src, calls, tt.calls)
		}
	}

	for _, src := range []string{
		"{{ ti.xcom_pull(task_ids=1) }}",
		"{{ ti.xcom_pull(task_ids=['a', 1]) }}",
		"{{ ti.xcom_pull('a', key=3) }}",
		"{{ ti.xcom_pull('a', task_ids='b') }}",
		"{{ ti.xcom_pull('a', 'etl', 'k', 'd', 'extra') }}",
	} {
		if got, err := Render(src, ctx); err == nil {
			t.Errorf("Render(%q) = %q, want an error", src, got)
		}
	}
}

func TestNewContextCopiesParams(t *testing.T) {
	info := testInfo()
	info.Params = map[string]any{"list": []any{"b", "a"}, "m": map[string]any{"k": "v"}}
	ctx := NewContext(info)
	for _, src := range []string{
		"{% do params.list.reverse() %}",
		"{% do params.m.update({'k': 'changed'}) %}",
		"{% do params.update({'new': 1}) %}",
	} {
		if _, err := Render(src, ctx); err != nil {
			t.Fatalf("Render(%q): %v", src, err)
		}
	}
	want := map[string]any{"list": []any{"b", "a"}, "m": map[string]any{"k": "v"}}
	if !reflect.DeepEqual(info.Params, want) {
		t.Errorf("templates changed Info.Params: %v", info.Params)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want any
	}{
		{5.0, int64(5)},
		{-3.0, int64(-3)},
		{2.5, 2.5},
		{1e300, 1e300},
		{json.Number("12"), int64(12)},
		{json.Number("1.5"), 1.5},
		{"5", "5"},
		{nil, nil},
		{[]any{1.0, map[string]any{"x": 2.0}}, []any{int64(1), map[string]any{"x": int64(2)}}},
		{[]string{"a"}, []string{"a"}},
	}
	for _, tt := range tests {
		if got := normalize(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("normalize(%#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	got, err := decodeJSON(`{"n": 9007199254740993, "f": 1.25, "l": [true, null, "s"]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": int64(9007199254740993), "f": 1.25, "l": []any{true, nil, "s"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeJSON = %#v, want %#v", got, want)
	}
	for _, bad := range []string{"", "{", `{"a":1} {"b":2}`, "nope"} {
		if _, err := decodeJSON(bad); err == nil {
			t.Errorf("decodeJSON(%q) succeeded, want an error", bad)
		}
	}
}

func TestVariableErrorKeepsCause(t *testing.T) {
	// The cause travels through gonja as text, so check the message.
	_, err := Render("{{ var.value.absent }}", NewContext(testInfo()))
	if err == nil || !strings.Contains(err.Error(), errNotFound.Error()) || !strings.Contains(err.Error(), "absent") {
		t.Errorf("error = %v, want one naming the key and the cause", err)
	}
	var te *Error
	if !errors.As(err, &te) || te.Line != 1 {
		t.Errorf("error = %#v, want *Error at line 1", err)
	}
}

func TestTemplatesCannotChangeContext(t *testing.T) {
	ctx := NewContext(testInfo())
	for _, src := range []string{
		"{% do params.tags.reverse() %}",
		"{% do params.tags.append('z') %}",
		"{% do params.update({'tags': 1}) %}",
		"{% do params.pop('tags') %}",
		"{% set params = 1 %}",
	} {
		if _, err := Render(src, ctx); err != nil {
			t.Fatalf("Render(%q): %v", src, err)
		}
	}
	if got, err := Render("{{ params.tags | join(',') }}", ctx); err != nil || got != "a,b" {
		t.Errorf("params.tags after mutating templates = %q, %v; want a,b", got, err)
	}
	// Mutation of a template's own list still works as in Jinja.
	src := "{% set l = [1, 2, 3] %}{% do l.reverse() %}{% do l.append(0) %}{{ l }}"
	if got, err := Render(src, ctx); err != nil || got != "[3, 2, 1, 0]" {
		t.Errorf("Render(%q) = %q, %v; want [3, 2, 1, 0]", src, got, err)
	}
}
