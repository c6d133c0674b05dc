package dag

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSchema(t *testing.T) {
	out, err := Schema(testOps)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("Schema is not valid JSON")
	}
	var s map[string]any
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", s["$schema"])
	}
	for name := range testOps {
		if !strings.Contains(string(out), `"operator.`+name+`"`) || !strings.Contains(string(out), `"const": "`+name+`"`) {
			t.Errorf("schema does not describe operator %q", name)
		}
	}
	// Every key the loader accepts is described, and nothing more.
	defs := s["$defs"].(map[string]any)
	checkProps := func(where string, props any, want []string) {
		t.Helper()
		var got []string
		for k, v := range props.(map[string]any) {
			got = append(got, k)
			if d, _ := v.(map[string]any)["description"].(string); d == "" {
				t.Errorf("%s.%s has no description", where, k)
			}
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("%s properties = %v, want %v", where, got, want)
		}
	}
	checkProps("top", s["properties"], topKeyNames)
	checkProps("task", defs["task"].(map[string]any)["properties"], taskKeyNames)
	checkProps("default_args", defs["default_args"].(map[string]any)["properties"], defaultArgsKeyNames)
	checkProps("operator.bash", defs["operator.bash"].(map[string]any)["properties"], []string{"command", "cwd", "append_env", "skip_on_exit_code"})
	// Every $ref resolves.
	for _, ref := range regexp.MustCompile(`"\$ref": "#/\$defs/([^"]+)"`).FindAllStringSubmatch(string(out), -1) {
		if _, ok := defs[ref[1]]; !ok {
			t.Errorf("dangling $ref %s", ref[1])
		}
	}
	// No operators is still a valid schema.
	if out, err := Schema(nil); err != nil || !json.Valid(out) {
		t.Errorf("Schema(nil) = %s, %v", out, err)
	}
}

// TestSchemaAgreesWithLoader validates the fixtures against the schema with
// a small validator for the keywords Schema uses: what loads must validate,
// and typos the loader rejects must not.
func TestSchemaAgreesWithLoader(t *testing.T) {
	out, err := Schema(testOps)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(out, &schema); err != nil {
		t.Fatal(err)
	}
	v := &miniValidator{defs: schema["$defs"].(map[string]any)}
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	files = append(files, "testdata/dir/good.yaml")
	for _, f := range files {
		doc := yamlDoc(t, f)
		if errs := v.validate(schema, doc, ""); len(errs) > 0 {
			t.Errorf("%s does not validate: %v", f, errs)
		}
	}
	for _, tt := range []struct{ file, want string }{
		{"testdata/invalid/unknown_keys.yaml", "/schedul: not allowed"},
		{"testdata/invalid/unknown_keys.yaml", "/tasks/0/comand: not allowed"},
		{"testdata/invalid/missing_task_keys.yaml", "/tasks/2: missing command"},
		{"testdata/invalid/trigger_rule.yaml", "/tasks/0/trigger_rule: not in enum"},
		{"testdata/invalid/types.yaml", "/tasks/0/retries: want integer"},
	} {
		errs := v.validate(schema, yamlDoc(t, tt.file), "")
		if !slices.Contains(errs, tt.want) {
			t.Errorf("%s: schema errors %v lack %q", tt.file, errs, tt.want)
		}
	}
}

func yamlDoc(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	l := &loader{budget: 1 << 20}
	v, _ := l.value(n.Content[0], "", false) // dates stay strings, as in JSON
	return v
}

// miniValidator implements the JSON Schema keywords Schema emits. Its
// unevaluatedProperties only counts properties, allOf and if/then, which is
// all Schema uses.
type miniValidator struct{ defs map[string]any }

func (v *miniValidator) validate(s map[string]any, x any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := s["$ref"].(string); ok {
		errs = append(errs, v.validate(v.defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any), x, path)...)
	}
	if typ, ok := s["type"]; ok {
		types, _ := typ.([]any)
		if str, ok := typ.(string); ok {
			types = []any{str}
		}
		if !slices.ContainsFunc(types, func(t any) bool { return jsonType(x, t.(string)) }) {
			fail("want %v", typ)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(x) }) {
		fail("not in enum")
	}
	if c, ok := s["const"]; ok && c != x {
		fail("not %v", c)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := x.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("does not match %s", p)
		}
	}
	if oneOf, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, sub := range oneOf {
			if len(v.validate(sub.(map[string]any), x, path)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of oneOf", n)
		}
	}
	obj, isObj := x.(map[string]any)
	evaluated := map[string]bool{}
	if isObj {
		for _, r := range anyList(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %s", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range obj {
			if sub, ok := props[k]; ok {
				evaluated[k] = true
				errs = append(errs, v.validate(sub.(map[string]any), val, path+"/"+k)...)
			} else if ap, ok := s["additionalProperties"]; ok {
				if ap == false {
					errs = append(errs, path+"/"+k+": not allowed")
				} else {
					errs = append(errs, v.validate(ap.(map[string]any), val, path+"/"+k)...)
				}
			}
		}
	}
	for _, sub := range anyList(s["allOf"]) {
		sm := sub.(map[string]any)
		if len(v.validate(sm["if"].(map[string]any), x, path)) == 0 {
			then := sm["then"].(map[string]any)
			errs = append(errs, v.validate(then, x, path)...)
			target := v.defs[strings.TrimPrefix(then["$ref"].(string), "#/$defs/")].(map[string]any)
			for k := range target["properties"].(map[string]any) {
				evaluated[k] = true
			}
		}
	}
	if s["unevaluatedProperties"] == false {
		for k := range obj {
			if !evaluated[k] {
				errs = append(errs, path+"/"+k+": not allowed")
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		for i, e := range anyList(x) {
			errs = append(errs, v.validate(items, e, fmt.Sprintf("%s/%d", path, i))...)
		}
	}
	if m, ok := s["minItems"].(float64); ok && float64(len(anyList(x))) < m {
		fail("fewer than %v items", m)
	}
	return errs
}

func anyList(x any) []any { l, _ := x.([]any); return l }

func jsonType(x any, t string) bool {
	switch x.(type) {
	case string:
		return t == "string"
	case bool:
		return t == "boolean"
	case int:
		return t == "integer" || t == "number"
	case float64:
		return t == "number"
	case nil:
		return t == "null"
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}
