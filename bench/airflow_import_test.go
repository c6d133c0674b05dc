package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/airflowimport"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

// airflowTemplates are four Airflow DAG files in the styles users write:
// classic operators with a TaskGroup and a loop, TaskFlow, a branch, and
// provider operators. %[1]d makes each file's dag_id unique.
var airflowTemplates = []string{`
from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("classic_%[1]d", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False,
         default_args={"retries": 2, "retry_delay": timedelta(minutes=1)}, tags=["bench"]) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("extract") as extract:
        for t in ["orders", "customers", "products", "stores"]:
            BashOperator(task_id=t, bash_command="echo %[1]d " + t + " {{ ds }}")
    load = BashOperator(task_id="load", bash_command="echo load", execution_timeout=timedelta(minutes=5))
    start >> extract >> load
`, `
import json
import pendulum
from airflow.decorators import dag, task

@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, dag_id="taskflow_%[1]d")
def etl():
    @task()
    def extract():
        return json.loads('{"a": %[1]d, "b": 2}')

    @task(multiple_outputs=True)
    def transform(d: dict):
        return {"total": sum(d.values())}

    @task()
    def load(total: float):
        print(total)

    load(transform(extract())["total"])

etl()
`, `
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator

def choose(n):
    return "even" if n %% 2 == 0 else "odd"

with DAG("branch_%[1]d", start_date=datetime(2024, 1, 1), schedule=None):
    pick = BranchPythonOperator(task_id="pick", python_callable=choose, op_args=[%[1]d])
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    pick >> [EmptyOperator(task_id="even"), EmptyOperator(task_id="odd")] >> join
`, `
from datetime import datetime
from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.ssh.operators.ssh import SSHOperator

with DAG("providers_%[1]d", start_date=datetime(2024, 1, 1), schedule="0 3 * * *", catchup=False):
    s = SparkSubmitOperator(task_id="spark", conn_id="spark_default", application="/jobs/app.py",
                            application_args=["{{ ds }}"], executor_memory="2g")
    k = KubernetesPodOperator(task_id="pod", name="p", image="busybox", cmds=["sh", "-c"], arguments=["echo %[1]d"])
    h = SSHOperator(task_id="ssh", ssh_conn_id="edge", command="hostname")
    s >> k >> h
`}

// BenchmarkAirflowImport1000 converts 1,000 Airflow DAG files (the four
// templates in turn) with `dags import-airflow`'s code: ONE python3 runs
// every file, and each YAML written is validated by the loader.
func BenchmarkAirflowImport1000(b *testing.B) {
	dir := workDir(b)
	src := filepath.Join(dir, "airflow")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		body := fmt.Sprintf(airflowTemplates[i%len(airflowTemplates)], i)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("dag_%04d.py", i)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprintf("out_%d", time.Now().UnixNano()))
		opts := airflowimport.Options{Out: out, Load: engine.NewBag(out, all.Registry().Specs()).LoadOptions()}
		start := time.Now()
		res, err := airflowimport.Import(b.Context(), []string{src}, opts)
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		if res.Failed() > 0 || len(res.Files) != 1000 {
			b.Fatalf("%d files, %d failed", len(res.Files), res.Failed())
		}
		for _, f := range res.Files {
			for _, d := range f.DAGs {
				if d.Invalid != nil {
					b.Fatalf("%s: %v", d.DagID, d.Invalid)
				}
			}
		}
		b.ReportMetric(elapsed.Seconds(), "s/1000files")
		b.ReportMetric(1000/elapsed.Seconds(), "files/s")
	}
}
