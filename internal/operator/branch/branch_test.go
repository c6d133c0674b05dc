package branch_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/branch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuffer is the try's log: stdout and stderr write to it concurrently.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTask(t *testing.T, args map[string]any, downstream ...string) (*operator.Task, *logBuffer) {
	log := &logBuffer{}
	return &operator.Task{DagID: "d", RunID: "r", TaskID: "choose", TryNumber: 1, Args: args,
		DagDir: t.TempDir(), Downstream: downstream, Log: log}, log
}

// TestBranchExecute runs real bash commands: the last stdout line is the
// choice, pushed as return_value; a task that is not directly downstream
// fails the try, naming itself and the valid ones.
func TestBranchExecute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command string
		downstream    []string
		want          string // return_value; "" when the try fails
		err           string
	}{
		{"bare id after other output", "echo working; echo a", []string{"a", "b"}, `"a"`, ""},
		{"JSON list", `echo '["b", "a"]'`, []string{"a", "b"}, `["b","a"]`, ""},
		{"JSON string", `echo '"b"'`, []string{"a", "b"}, `"b"`, ""},
		{"no output follows none", "true", []string{"a", "b"}, `[]`, ""},
		{"null follows none", "echo null", []string{"a", "b"}, `[]`, ""},
		{"empty list follows none", "echo '[]'", []string{"a", "b"}, `[]`, ""},
		{"none with no downstream", "true", nil, `[]`, ""},
		{"unknown id", "echo c", []string{"a", "b"}, "", `branch chose "c", which is not a direct downstream task of choose (valid: a, b)`},
		{"unknown ids in a list", `echo '["a","x","y"]'`, []string{"a", "b"}, "", `branch chose "x", "y", which are not direct downstream tasks of choose (valid: a, b)`},
		{"an id with no downstream", "echo a", nil, "", `of choose (it has no downstream tasks, so its result must be empty, null or [])`},
		{"Python list", `echo "['a', 'b']"`, []string{"a", "b"}, "", "print json.dumps(...) instead"},
		{"list of numbers", `echo '[1]'`, []string{"a"}, "", "1 in the list is not a task id"},
		{"command fails", "echo a; exit 3", []string{"a"}, "", "exit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task, log := newTask(t, map[string]any{"command": tt.command}, tt.downstream...)
			res, err := branch.BranchFactory.New().Execute(context.Background(), task)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v\nlog:\n%s", err, log)
			}
			if string(res.ReturnJSON) != tt.want || res.ReturnValue != nil {
				t.Fatalf("return_value %s (text %v), want %s", res.ReturnJSON, res.ReturnValue, tt.want)
			}
			if !strings.Contains(log.String(), "sirocco: branch follows") {
				t.Errorf("the log does not say what the branch follows:\n%s", log)
			}
		})
	}
}

// TestBranchRunsAsBash: the branch's command runs as the bash operator's
// does (cwd the DAG's folder, skip_on_exit_code).
func TestBranchRunsAsBash(t *testing.T) {
	t.Parallel()
	task, _ := newTask(t, map[string]any{"command": "exit 99"}, "a")
	if _, err := branch.BranchFactory.New().Execute(context.Background(), task); !errors.Is(err, operator.ErrSkip) {
		t.Fatalf("exit 99: %v, want a skip", err)
	}
	task, _ = newTask(t, map[string]any{}, "a")
	task.Args["command"] = `test "$PWD" = "` + task.DagDir + `" && echo a`
	res, err := branch.BranchFactory.New().Execute(context.Background(), task)
	if err != nil || string(res.ReturnJSON) != `"a"` {
		t.Fatalf("in the DAG's folder: %s, %v", res.ReturnJSON, err)
	}
}

// TestShortCircuitExecute: the last line's truth value, Python's, decides;
// what is pushed is the condition as JSON.
func TestShortCircuitExecute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want, log string
		ignore          any
	}{
		{"True", "true", "is true (true): the downstream tasks proceed", nil},
		{"yes", "true", "is true", nil},
		{"1", "1", "is true", nil},
		{`{"rows": 3}`, `{"rows":3}`, "is true", nil},
		{"False", "false", "is false (false): every task downstream is skipped", nil},
		{"no", "false", "is false", nil},
		{"0", "0", "is false", nil},
		{"None", "null", "is false", nil},
		{"[]", "[]", "is false", nil},
		{`""`, `""`, "is false", nil},
		{"false", "false", "is false (false): next skipped; trigger rules decide below them", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			args := map[string]any{"command": "echo checking; echo '" + tt.line + "'"}
			if tt.ignore != nil {
				args["ignore_downstream_trigger_rules"] = tt.ignore
			}
			task, log := newTask(t, args, "next")
			res, err := branch.ShortCircuitFactory.New().Execute(context.Background(), task)
			if err != nil || string(res.ReturnJSON) != tt.want {
				t.Fatalf("return_value %s, %v; want %s", res.ReturnJSON, err, tt.want)
			}
			if !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log)
			}
		})
	}
	task, _ := newTask(t, map[string]any{"command": "echo maybe"}, "next")
	_, err := branch.ShortCircuitFactory.New().Execute(context.Background(), task)
	if err == nil || !strings.Contains(err.Error(), `"maybe" is neither one JSON value nor one of true, false`) {
		t.Fatalf("a word that is no condition: %v", err)
	}
}

// TestSpecsShareTheBashFields: the branching operators take the bash
// operator's command fields, and short_circuit's ignore flag defaults to
// true, as Airflow's.
func TestSpecsShareTheBashFields(t *testing.T) {
	t.Parallel()
	var got []string
	for _, f := range branch.BranchSpec.Fields {
		got = append(got, f.Name)
	}
	if want := []string{"command", "cwd", "append_env", "skip_on_exit_code"}; !slices.Equal(got, want) {
		t.Errorf("branch fields %v, want %v", got, want)
	}
	last := branch.ShortCircuitSpec.Fields[len(branch.ShortCircuitSpec.Fields)-1]
	if last.Name != "ignore_downstream_trigger_rules" || last.Default != true {
		t.Errorf("short_circuit's last field %+v", last)
	}
}
