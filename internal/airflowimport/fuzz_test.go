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
