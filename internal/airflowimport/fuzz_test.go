package airflowimport

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

// FuzzImportJSON feeds arbitrary shim output to the parser and the
// converter: neither may panic, and whatever converts is well-formed YAML
// that the loader reads without panicking. Seeds in
// testdata/fuzz/FuzzImportJSON are real shim lines of the corpus.
func FuzzImportJSON(f *testing.F) {
	f.Add([]byte(`{"file":"a.py","dags":[{"dag_id":"a","loc":"a.py:1","kwargs":{"schedule":null},"tasks":[{"task_id":"t","class":"BashOperator","kwargs":{"bash_command":"echo"},"upstream":[]}],"groups":[]}]}`))
	specs := all.Registry().Specs()
	opts := dag.LoadOptions{Operators: specs}
	f.Fuzz(func(t *testing.T, line []byte) {
		res, err := ParseResult(line)
		if err != nil {
			return
		}
		for _, d := range res.DAGs {
			conv, err := Convert(d, res.File, specs)
			if err != nil {
				continue
			}
			var node yaml.Node
			if err := yaml.Unmarshal(conv.YAML, &node); err != nil {
				t.Fatalf("Convert wrote YAML that does not parse: %v\n%s", err, conv.YAML)
			}
			_, _ = dag.Parse("fuzz.yaml", conv.YAML, opts)
		}
	})
}

// FuzzAirflowIgnore: any .airflowignore is read without a panic, and a
// file it excludes is excluded by one of its lines.
func FuzzAirflowIgnore(f *testing.F) {
	f.Add([]byte("# comment\n^skip_\narchive\n"), "sub/skip_me.py")
	f.Add([]byte("*_old.py\n/build/\n[a-\n(unclosed\n"), "x_old.py")
	f.Add([]byte("**/*.py\n\\\n"), "a/b/c.py")
	f.Fuzz(func(t *testing.T, data []byte, rel string) {
		rules := parseIgnore("/dags", data)
		by := ignoredBy(rules, "/dags/"+rel)
		if by != "" && len(rules) == 0 {
			t.Fatalf("%q ignored by %q with no rule", rel, by)
		}
	})
}
