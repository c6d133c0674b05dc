package template

import (
	"strings"
	"testing"
)

// TestRenderNone: None prints as Jinja2 prints it (str(None) = "None"),
// whether written None or none, held by a variable, pulled from an XCom
// nobody pushed, or inside a list or dict; an undefined name is still an
// error. gonja printed nil as nothing, so `echo "pulled {{
// ti.xcom_pull(task_ids='ok_xcom') }}"` ran `echo "pulled "`.
func TestRenderNone(t *testing.T) {
	ctx := NewContext(testInfo())
	ctx["x"] = nil
	ctx["m"] = map[string]any{"k": nil, "j": "s"}
	ctx["l"] = []any{"a", nil, 1.5, map[string]any{"z": nil}}
	tests := []struct{ name, src, want string }{
		{"None literal", "{{ None }}", "None"},
		{"none literal", "{{ none }}", "None"},
		{"variable holding None", "{{ x }}", "None"},
		{"xcom nobody pushed", "pulled {{ ti.xcom_pull(task_ids='nobody') }}", "pulled None"},
		{"dict item", "{{ m.k }} {{ m['k'] }} {{ m.get('zz') }}", "None None None"},
		{"concatenation", "{{ x ~ '!' }}", "None!"},
		{"string filter", "{{ x | string }}", "None"},
		{"shquote filter", "{{ x | shquote }}", "'None'"},
		{"list", "{{ [None, 1, 'a'] }}", "[None, 1, 'a']"},
		{"list from the context", "{{ l }}", "['a', None, 1.5, {'z': None}]"},
		{"dict literal keeps its order", "{{ {'b': none, 'a': [None]} }}", "{'b': None, 'a': [None]}"},
		{"map from the context is sorted", "{{ m }}", "{'j': 's', 'k': None}"},
		{"is none", "{{ x is none }} {{ none is none }} {{ 1 is none }}", "True True False"},
		{"equals none", "{% if x == none %}eq{% endif %}", "eq"},
		{"falsy", "{{ x if x else 'empty' }}", "empty"},
		{"tojson", "{{ x | tojson }}", "null"},
		{"lists without None unchanged", "{{ [1, 'a'] }} {{ {'k': 'v'} }}", "[1, 'a'] {'k': 'v'}"},
		{"True and False unchanged", "{{ True }} {{ false }}", "True False"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.src, ctx)
			if err != nil {
				t.Fatalf("Render(%q): %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
	for _, tt := range []struct{ src, want string }{
		{"{{ nope }}", `"nope" is undefined`},
		{"{{ nope ~ 'x' }}", `"nope" is undefined`},
		{"{{ [nope] }}", `"nope" is undefined`},
		{"{{ params.nope }}", "attribute 'nope' not found"},
	} {
		if _, err := Render(tt.src, ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Render(%q): %v, want an error saying %s", tt.src, err, tt.want)
		}
	}
}
