package airflowimport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsNotInReport: a password in a URL, or an argument named like
// a secret, that the importer does not convert is named in the report and
// the YAML's head comment without its value; so is a URL in an error.
func TestSecretsNotInReport(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"sec.py": "from datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.bash import BashOperator\n" +
			"with DAG('sec', schedule=None, start_date=datetime(2024, 1, 1), default_args={'api_token': 'tok-1234567'}):\n" +
			"    BashOperator(task_id='a', bash_command='echo', sql_conn='postgresql://bob:hunter2@db:5432/x',\n" +
			"                 password='pw-secret', extra_conf={'db': {'secret_key': 'sk-999'}})\n",
		"raises.py": "from airflow import DAG\nraise ValueError('cannot reach mysql://app:s3cr3t@db/app')\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, out, report := importInto(t, dir)
	yaml, _ := os.ReadFile(filepath.Join(out, "sec.yaml"))
	for _, secret := range []string{"tok-1234567", "hunter2", "pw-secret", "sk-999", "s3cr3t"} {
		if strings.Contains(report, secret) || strings.Contains(string(yaml), secret) {
			t.Errorf("%s shown:\n%s\n%s", secret, report, yaml)
		}
	}
	for _, want := range []string{`api_token="***"`, `password="***"`, `postgresql://bob:***@db:5432/x`, `"secret_key":"***"`, "mysql://app:***@db/app"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %s:\n%s", want, report)
		}
	}
}
