package airflowimport

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOutputNeverOverwritesSilently: a hand-written file of the same name
// is left as it is and the DAG reported as failed; an earlier conversion
// is replaced and the report says so; two DAG ids that make the same
// module name get a module each.
func TestOutputNeverOverwritesSilently(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "two.py")
	body := "from datetime import datetime\nfrom airflow.decorators import dag, task\n" +
		"for i, dag_id in enumerate(['a-b', 'a_b']):\n" +
		"    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1))\n" +
		"    def make(n=i):\n" +
		"        @task\n        def one():\n            return 1\n        one()\n" +
		"    make()\n"
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run := func() (Result, string) {
		var report bytes.Buffer
		res, err := Import(t.Context(), []string{src}, Options{Out: out, Load: loadOptions(out), Report: &report, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return res, report.String()
	}
	res, report := run()
	if res.Failed() != 0 || len(res.Files[0].DAGs) != 2 {
		t.Fatalf("first import: %+v\n%s", res, report)
	}
	for _, c := range []struct{ yaml, module string }{{"a-b.yaml", "a_b_callables"}, {"a_b.yaml", "a_b_2_callables"}} {
		y, _ := os.ReadFile(filepath.Join(out, c.yaml))
		if !strings.Contains(string(y), "callable: "+c.module+":one") {
			t.Errorf("%s does not call %s:\n%s", c.yaml, c.module, y)
		}
		if _, err := os.Stat(filepath.Join(out, c.module+".py")); err != nil {
			t.Error(err)
		}
		if d := res.Files[0].DAGs; d[0].Invalid != nil || d[1].Invalid != nil {
			t.Errorf("invalid: %v %v", d[0].Invalid, d[1].Invalid)
		}
	}

	res, report = run()
	if res.Failed() != 0 || !strings.Contains(report, "replaced "+filepath.Join(out, "a-b.yaml")+", written by an earlier import") {
		t.Errorf("second import does not say it replaced the first one's files:\n%s", report)
	}

	mine := []byte("# my own DAG\ndag_id: a_b\nschedule: none\ntasks:\n  - {id: x, operator: empty}\n")
	if err := os.WriteFile(filepath.Join(out, "a_b.yaml"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	res, report = run()
	if res.Failed() != 1 || !strings.Contains(report, "a_b.yaml exists and was not written by import-airflow") {
		t.Errorf("a hand-written file is not refused:\n%s", report)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "a_b.yaml")); !bytes.Equal(got, mine) {
		t.Errorf("the hand-written file was changed:\n%s", got)
	}
}
