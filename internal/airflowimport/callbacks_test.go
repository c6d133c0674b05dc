package airflowimport

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
)

// TestCallbacksInherit: a level that sets a callback or an e-mail key is
// written with the whole list Airflow calls there, a task that turns the
// inherited e-mail off gets an empty list, and the others inherit: what
// the loader reads is what Airflow would call for each task.
func TestCallbacksInherit(t *testing.T) {
	src := filepath.Join(t.TempDir(), "grp.py")
	body := `from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.utils.task_group import TaskGroup
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

with DAG("grp_cb", start_date=datetime(2024, 1, 1), schedule=None, default_args={"email": "a@b.c"}):
    with TaskGroup("g", default_args={"on_failure_callback": SlackWebhookNotifier(text="g failed")}):
        BashOperator(task_id="t1", bash_command="echo")
        BashOperator(task_id="t2", bash_command="echo", email_on_retry=False)
    BashOperator(task_id="t3", bash_command="echo", on_retry_callback=[SmtpNotifier(to="x@y.z")])
    BashOperator(task_id="t4", bash_command="echo", email=None)
`
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, report := importInto(t, src)
	d, err := dag.LoadFile(filepath.Join(out, "grp_cb.yaml"), loadOptions(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, report)
	}
	kinds := func(ns []dag.Notifier) []string {
		var k []string
		for _, n := range ns {
			k = append(k, n.Kind())
		}
		return k
	}
	want := map[string][2][]string{ // task: failure, retry
		"g.t1": {{"webhook", "email"}, {"email"}},
		"g.t2": {{"webhook", "email"}, nil},
		"t3":   {{"email"}, {"email", "email"}},
		"t4":   {nil, nil},
	}
	for _, task := range d.Tasks {
		w, ok := want[task.ID]
		if !ok {
			continue
		}
		if got := kinds(task.Callbacks.OnFailure); !equalStrings(got, w[0]) {
			t.Errorf("%s on_failure_callback: %v, want %v", task.ID, got, w[0])
		}
		if got := kinds(task.Callbacks.OnRetry); !equalStrings(got, w[1]) {
			t.Errorf("%s on_retry_callback: %v, want %v", task.ID, got, w[1])
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
