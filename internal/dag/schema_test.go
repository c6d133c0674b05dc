package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
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
// a real JSON Schema (2020-12) validator: what loads must validate, and
// typos the loader rejects must not.
func TestSchemaAgreesWithLoader(t *testing.T) {
	out, err := Schema(testOps)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sirocco-dag.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sirocco-dag.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	files = append(files, "testdata/dir/good.yaml")
	for _, f := range files {
		if err := schema.Validate(yamlDoc(t, f)); err != nil {
			t.Errorf("%s does not validate: %v", f, err)
		}
	}
	for _, tt := range []struct{ file, at, want string }{
		{"testdata/invalid/unknown_keys.yaml", "/", "additional properties 'schedul' not allowed"},
		{"testdata/invalid/unknown_keys.yaml", "/tasks/0/comand", "false schema"},
		{"testdata/invalid/missing_task_keys.yaml", "/tasks/2", "missing property 'command'"},
		{"testdata/invalid/trigger_rule.yaml", "/tasks/0/trigger_rule", "value must be one of"},
		{"testdata/invalid/types.yaml", "/tasks/0/retries", "want integer"},
		{"testdata/invalid/airflow_names.yaml", "/", "additional properties 'schedule_interval' not allowed"},
		{"testdata/invalid/airflow_names.yaml", "/tasks/0", "missing property 'id'"},
		{"testdata/invalid/airflow_names.yaml", "/tasks/1/upstream", "false schema"},
		{"testdata/invalid/groups.yaml", "/groups/1", "additional properties 'colour' not allowed"},
		{"testdata/invalid/groups.yaml", "/groups/2/id", "does not match pattern"},
		{"testdata/invalid/groups.yaml", "/groups/4", "missing property 'id'"},
	} {
		leaves := schemaErrors(schema.Validate(yamlDoc(t, tt.file)))
		if !slices.ContainsFunc(leaves, func(l string) bool { return strings.HasPrefix(l, tt.at+": ") && strings.Contains(l, tt.want) }) {
			t.Errorf("%s: schema errors %q lack %q at %s", tt.file, leaves, tt.want, tt.at)
		}
	}
}

// schemaErrors flattens a validation error into "instance-pointer: message"
// lines, one per leaf cause.
func schemaErrors(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
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
