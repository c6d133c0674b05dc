package cli

import (
	"testing"
)

// TestMissingPartsAreNamed (trial12 #5–#8): `tasks state`, `tasks mark`
// and `dags state` of an instance, run or DAG that is not there say which
// part is missing, as `tasks logs` does, without repeating the store's
// text; `tasks state` of a run that does not exist fails instead of
// printing an empty table.
func TestMissingPartsAreNamed(t *testing.T) {
	_, run := logsHome(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tasks", "state", "d", "r", "nosuch"}, "task instance d/r/nosuch: not found (the DAG d as loaded has no task nosuch)"},
		{[]string{"tasks", "state", "d", "r2"}, "DAG d has no run r2"},
		{[]string{"tasks", "state", "nodag", "r"}, "no DAG nodag"},
		{[]string{"tasks", "mark", "d", "r", "nosuch", "success"}, "task instance d/r/nosuch: not found (the DAG d as loaded has no task nosuch)"},
		{[]string{"tasks", "mark", "d", "r2", "up", "success"}, "task instance d/r2/up: not found (DAG d has no run r2)"},
		{[]string{"tasks", "mark", "nodag", "r", "up", "success"}, "task instance nodag/r/up: not found (no DAG nodag)"},
		{[]string{"tasks", "mark", "d", "r", "up", "success", "--map-index", "1"}, "task instance d/r/up [1]: not found (task up is not mapped: leave out --map-index)"},
		{[]string{"dags", "state", "d", "r2"}, "DAG d has no run r2"},
		{[]string{"dags", "state", "nodag", "r"}, "no DAG nodag"},
		{[]string{"tasks", "logs", "d", "up", "r"}, "task instance d/up/r: not found (DAG d has no run up, but up is a task of it: the arguments are DAG_ID RUN_ID TASK_ID)"},
		{[]string{"tasks", "mark", "d", "r", "up"}, "accepts 4 arg(s), received 3; usage: sirocco tasks mark DAG_ID RUN_ID TASK_ID success|failed|skipped [flags]"},
	} {
		_, err := run(t.Context(), c.args...)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: %v; want %q", c.args, err, c.want)
		}
	}
}
