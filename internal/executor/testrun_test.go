package executor_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// syncBuffer is the output of Runner.Test: stdout and stderr share it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fingerprint hashes every row of every table, read on a connection of
// its own: any write changes it. The files cannot be compared: the
// store's background checkpoint moves pages from the log into the
// database file a second after the set-up's writes, whenever the test
// happens to be then.
func fingerprint(t *testing.T, dbPath string) [32]byte {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`" ORDER BY rowid`)
		if err != nil {
			rows, err = db.QueryContext(ctx, `SELECT * FROM "`+table+`"`) // WITHOUT ROWID
		}
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%s %v\n", table, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

const testDAG = `
dag_id: testrun
params: {who: world}
tasks:
  - id: hello
    operator: bash
    env: {WHO: "{{ params.who }}"}
    command: echo "ctx $SIROCCO_CTX_DAG_ID $SIROCCO_CTX_TRY_NUMBER $SIROCCO_CTX_LOGICAL_DATE"; echo oops >&2; echo "hello $WHO {{ ds }} {{ var.value.greeting }} [{{ ti.xcom_pull(task_ids='hello') }}]"
  - {id: skipper, operator: bash, command: 'exit 99'}
  - {id: broken, operator: bash, command: 'exit 4'}
  - {id: slow, operator: bash, execution_timeout: 200ms, command: 'sleep 30'}
  - {id: bad_template, operator: bash, command: 'echo {{ nowhere }}'}
  - {id: mapped, operator: bash, expand: {command: ['echo a', 'echo b']}}
`

// TestRunnerTestRecordsNothing: Runner.Test runs the task now, as
// "airflow tasks test" does, and leaves the store and the logs untouched.
func TestRunnerTestRecordsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testDAG)
	ctx := context.Background()
	if err := e.st.SetVariable(ctx, store.Variable{Key: "greeting", Value: "hi"}); err != nil {
		t.Fatal(err)
	}
	before := fingerprint(t, e.dbPath)

	tests := []struct {
		task    string
		conf    map[string]any
		wantErr string // "" = success
		wantOut []string
	}{
		{task: "hello", conf: map[string]any{"who": "sirocco"}, wantOut: []string{
			"ctx testrun 1 2026-02-03T04:05:06Z\n", "oops\n", "hello sirocco 2026-02-03 hi [None]\n", "return_value: hello sirocco 2026-02-03 hi [None]\n",
		}},
		{task: "skipper", wantOut: []string{"task would be skipped: task skipped: exit code 99\n"}},
		{task: "broken", wantErr: "process exited with code 4"},
		{task: "slow", wantErr: context.DeadlineExceeded.Error()},
		{task: "bad_template", wantErr: `"nowhere" is undefined`},
		// A mapped task is not run as one task that succeeds having run
		// none of its elements.
		{task: "mapped", wantErr: "is mapped"},
	}
	for _, tt := range tests {
		out := &syncBuffer{}
		start := time.Now()
		err := e.runner.Test(ctx, e.d, e.d.Task(tt.task), logicalDate, tt.conf, out)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: Test = %v\n%s", tt.task, err, out)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: Test = %v, want an error with %q", tt.task, err, tt.wantErr)
		}
		for _, want := range tt.wantOut {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", tt.task, want, out)
			}
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s took %s", tt.task, took)
		}
	}

	if after := fingerprint(t, e.dbPath); after != before {
		t.Error("Runner.Test wrote to the database")
	}
	runs, err := e.st.ListRuns(ctx, store.RunFilter{DagID: "testrun"})
	if err != nil || len(runs) != 0 {
		t.Errorf("runs after Test: %v, %v; want none", runs, err)
	}
	if _, err := os.Stat(e.runner.LogsDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Test created the logs folder: %v", err)
	}
}

// TestRunnerTestKillsTheProcessOnTimeout: the timed-out child of a test run
// does not survive it.
func TestRunnerTestKillsTheProcessOnTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `
dag_id: testslow
tasks:
  - {id: slow, operator: bash, execution_timeout: 1s, command: 'sleep 30 & echo "child $!"; wait'}
`)
	out := &syncBuffer{}
	err := e.runner.Test(context.Background(), e.d, e.d.Task("slow"), logicalDate, nil, out)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Test = %v, want the deadline", err)
	}
	var ee *process.ExitError
	if !errors.As(err, &ee) || ee.Signal == "" {
		t.Errorf("Test = %v, want the leader killed by a signal", err)
	}
	var pid int
	for line := range strings.Lines(out.String()) {
		if rest, ok := strings.CutPrefix(line, "child "); ok {
			if _, err := fmt.Sscan(rest, &pid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pid == 0 {
		t.Fatalf("no child pid in the output:\n%s", out)
	}
	testenv.EventuallyDead(t, pid, 30*time.Second)
}

// handleOperator saves and notes a handle, as operators that start work
// outside the process (spark_submit) do before they wait on it.
type handleOperator struct{}

func (handleOperator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	t.NoteHandle([]byte(`{"kind":"process","pid":1}`))
	return operator.Result{}, t.SaveHandle(ctx, []byte(`{"kind":"spark_driver","driver_id":"driver-1"}`))
}

// TestRunnerTestShowsHandles: an operator that saves its handle runs under
// "tasks test" (which stores nothing; it used to panic on the missing
// SaveHandle) and the handle is shown to the user.
func TestRunnerTestShowsHandles(t *testing.T) {
	t.Parallel()
	ops := maps.Clone(all.Registry())
	ops["handles"] = operator.Factory{Spec: dag.OperatorSpec{}, New: func() operator.Operator { return handleOperator{} }}
	e := newEnvWith(t, "dag_id: h\ntasks:\n  - {id: t, operator: handles}\n", ops)
	before := fingerprint(t, e.dbPath)
	out := &syncBuffer{}
	if err := e.runner.Test(context.Background(), e.d, e.d.Task("t"), logicalDate, nil, out); err != nil {
		t.Fatalf("Test = %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), `handle: {"kind":"spark_driver","driver_id":"driver-1"}`) {
		t.Errorf("output lacks the saved handle:\n%s", out)
	}
	if after := fingerprint(t, e.dbPath); after != before {
		t.Error("Runner.Test stored the handle")
	}
}
