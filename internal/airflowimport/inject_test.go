package airflowimport

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestNoInjection: a file name, a description or a task id cannot add
// keys to the written YAML nor code to the written callables module.
func TestNoInjection(t *testing.T) {
	dir := t.TempDir()
	name := "evil\"\"\"\nimport os; os.system('touch pwned')\n#.py"
	src := "from datetime import datetime\nfrom airflow.decorators import dag, task\n" +
		"@dag(dag_id='inj', schedule=None, start_date=datetime(2024, 1, 1), description='x\\n\"\"\"\\ndag_id: evil\\nschedule: \"@daily\"')\n" +
		"def f():\n    @task\n    def h():\n        return 1\n    @task\n    def g(x):\n        return x\n    g(h())\nf()\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	badID := filepath.Join(dir, "bad_id.py")
	if err := os.WriteFile(badID, []byte("from airflow import DAG\nfrom airflow.operators.bash import BashOperator\n"+
		"with DAG('bad_id', schedule=None):\n    BashOperator(task_id='t\"\"\"\\nimport os', bash_command='echo')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out, report := importInto(t, filepath.Join(dir, name), badID)
	if len(res.Files) != 2 || res.Files[0].Error != nil || res.Files[0].DAGs[0].Invalid != nil {
		t.Fatalf("result %+v\n%s", res, report)
	}
	if !strings.Contains(report, "bad_id.py:4: AirflowException: The key") {
		t.Errorf("a task id with quotes and a new line is not refused as Airflow refuses it:\n%s", report)
	}
	body, err := os.ReadFile(filepath.Join(out, "inj.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["dag_id"] != "inj" || doc["schedule"] != "none" {
		t.Errorf("the description changed the DAG's keys:\n%s", body)
	}
	check := `import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
extra = [ast.dump(n)[:80] for n in tree.body[1:] if not isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign, ast.ClassDef))]
sys.exit("code outside functions: %s" % extra if extra else 0)
`
	if msg, err := exec.Command("python3", "-c", check, filepath.Join(out, "inj_callables.py")).CombinedOutput(); err != nil {
		mod, _ := os.ReadFile(filepath.Join(out, "inj_callables.py"))
		t.Errorf("%v: %s\n%s", err, msg, mod)
	}
}
