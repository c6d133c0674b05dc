package executor_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// resultOp returns the result its fields describe: ret (a JSON value) as
// ReturnJSON, text as ReturnValue, extra (a mapping of JSON texts) as
// XComs. It records the Task it was given.
type resultOp struct{ seen *seenTasks }

type seenTasks struct {
	mu    sync.Mutex
	tasks map[string]operator.Task
}

func (s *seenTasks) get(id string) operator.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasks[id]
}

func (o resultOp) Execute(_ context.Context, t *operator.Task) (operator.Result, error) {
	o.seen.mu.Lock()
	o.seen.tasks[t.TaskID] = *t
	o.seen.mu.Unlock()
	var res operator.Result
	if v, ok := t.Args["ret"]; ok {
		b, err := json.Marshal(v)
		if err != nil {
			return res, err
		}
		res.ReturnJSON = b
	}
	if v, ok := t.Args["raw"].(string); ok {
		res.ReturnJSON = []byte(v)
	}
	if v, ok := t.Args["text"].(string); ok {
		res.ReturnValue = &v
	}
	if m, ok := t.Args["extra"].(map[string]any); ok {
		res.XComs = map[string][]byte{}
		for k, v := range m {
			res.XComs[k] = []byte(v.(string))
		}
	}
	return res, nil
}

func resultRegistry(seen *seenTasks) operator.Registry {
	r := all.Registry()
	r["result"] = operator.Factory{
		Spec: dag.OperatorSpec{Name: "result", Fields: []dag.FieldSpec{
			{Name: "ret", Kind: dag.FieldAny}, {Name: "raw", Kind: dag.FieldString},
			{Name: "text", Kind: dag.FieldString}, {Name: "extra", Kind: dag.FieldAny},
		}},
		New: func() operator.Operator { return resultOp{seen: seen} },
	}
	return r
}

// TestResultXComsReachTemplates: ReturnJSON is stored as the JSON value
// it is, so a downstream template indexes the dict; the other keys of a
// result are stored besides it, pulled with key=; an extra key named
// return_value gives way to the return value.
func TestResultXComsReachTemplates(t *testing.T) {
	t.Parallel()
	seen := &seenTasks{tasks: map[string]operator.Task{}}
	e := newEnvWith(t, `
dag_id: xc
tasks:
  - id: f
    operator: result
    ret: {total: 42, items: [a, b]}
    extra: {total: "42", items: '["a", "b"]', return_value: '"shadowed"'}
  - id: show
    operator: bash
    depends_on: [f]
    command: echo {{ ti.xcom_pull('f')['total'] }} {{ ti.xcom_pull(task_ids='f', key='total') + 1 }} {{ ti.xcom_pull(task_ids='f', key='items') | join('+') }}
`, resultRegistry(seen))
	ctx := context.Background()
	runID := e.createRun(nil)
	for _, id := range []string{"f", "show"} {
		k := e.queue(runID, id)
		if err := e.runner.Run(ctx, k); err != nil {
			t.Fatal(err)
		}
		if ti := e.ti(k); ti.State != store.StateSuccess {
			t.Fatalf("%s: state %s\n%s", id, ti.State, e.log(k, 1))
		}
	}
	f := store.TaskKey{DagID: "xc", RunID: runID, TaskID: "f"}
	want := map[string]string{"return_value": `{"items":["a","b"],"total":42}`, "total": "42", "items": `["a", "b"]`}
	xs, err := e.st.ListXComs(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != len(want) {
		t.Errorf("f pushed %d XComs, want %d: %+v", len(xs), len(want), xs)
	}
	for _, x := range xs {
		if x.Value != want[x.Key] {
			t.Errorf("XCom %s = %s, want %s", x.Key, x.Value, want[x.Key])
		}
	}
	show := store.TaskKey{DagID: "xc", RunID: runID, TaskID: "show"}
	if x, err := e.st.GetXCom(ctx, show, "return_value"); err != nil || x.Value != `"42 43 a+b"` {
		t.Errorf("show's return_value = %q, %v (log:\n%s)", x.Value, err, e.log(show, 1))
	}
}

// TestResultNotJSONFailsTheTry: a value that is not JSON, or an empty
// key, is refused before anything is stored, saying which key.
func TestResultNotJSONFailsTheTry(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, task, wantLog string }{
		{"return value", `{id: f, operator: result, raw: "{nope"}`, `push return_value: the operator's value is not JSON: "{nope"`},
		{"other key", `{id: f, operator: result, text: ok, extra: {k: "not json"}}`, `push k: the operator's value is not JSON`},
		{"empty key", `{id: f, operator: result, extra: {"": "1"}}`, "an empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := &seenTasks{tasks: map[string]operator.Task{}}
			e := newEnvWith(t, "dag_id: bad\ntasks:\n  - "+tt.task+"\n", resultRegistry(seen))
			k := e.queue(e.createRun(nil), "f")
			if err := e.runner.Run(context.Background(), k); err != nil {
				t.Fatal(err)
			}
			if ti := e.ti(k); ti.State != store.StateFailed {
				t.Errorf("state %s, want failed", ti.State)
			}
			if log := e.log(k, 1); !strings.Contains(log, tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
			}
			if xs, err := e.st.ListXComs(context.Background(), k); err != nil || len(xs) != 0 {
				t.Errorf("XComs stored: %+v, %v", xs, err)
			}
		})
	}
}

// TestPrepareFillsRunContext: the operator gets the run's resolved
// params, its conf, its data interval and its logical date to the
// microsecond the store keeps.
func TestPrepareFillsRunContext(t *testing.T) {
	t.Parallel()
	seen := &seenTasks{tasks: map[string]operator.Task{}}
	e := newEnvWith(t, `
dag_id: rc
params: {region: {type: string, default: north}, n: {type: integer, default: 1}}
tasks:
  - {id: f, operator: result}
`, resultRegistry(seen))
	at := time.Date(2026, 2, 3, 4, 5, 6, 123456000, time.UTC)
	conf := map[string]any{"n": 5, "extra": "x"}
	iv := dag.Interval{Start: at.Add(-time.Hour), End: at}
	run, tis := scheduler.NewRunRecords(e.d, store.RunManual, iv, conf, time.Now().UTC())
	run.LogicalDate = at
	if err := e.st.CreateRun(context.Background(), run, tis); err != nil {
		t.Fatal(err)
	}
	k := e.queue(run.RunID, "f")
	if err := e.runner.Run(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	got := seen.get("f")
	if got.LogicalDate != "2026-02-03T04:05:06.123456Z" {
		t.Errorf("LogicalDate = %q, want the microseconds", got.LogicalDate)
	}
	if !got.DataIntervalStart.Equal(iv.Start) || !got.DataIntervalEnd.Equal(iv.End) ||
		got.DataIntervalStart.Location() != time.UTC {
		t.Errorf("data interval = %v – %v, want %v – %v in UTC", got.DataIntervalStart, got.DataIntervalEnd, iv.Start, iv.End)
	}
	if p, _ := json.Marshal(got.Params); string(p) != `{"n":5,"region":"north"}` {
		t.Errorf("Params = %s", p)
	}
	if c, _ := json.Marshal(got.Conf); string(c) != `{"extra":"x","n":5}` {
		t.Errorf("Conf = %s", c)
	}
}

// TestTestRunShowsXComs: tasks test prints what a try would push, the
// other keys first, a string return value as itself; and the operator
// gets the same run context as in a run.
func TestTestRunShowsXComs(t *testing.T) {
	t.Parallel()
	seen := &seenTasks{tasks: map[string]operator.Task{}}
	e := newEnvWith(t, `
dag_id: tr
params: {region: {type: string, default: north}}
tasks:
  - {id: obj, operator: result, ret: {total: 3}, extra: {total: "3"}}
  - {id: str, operator: result, text: hello}
`, resultRegistry(seen))
	at := time.Date(2026, 2, 3, 4, 5, 6, 500000000, time.UTC)
	for id, want := range map[string]string{"obj": "total: 3\nreturn_value: {\"total\":3}\n", "str": "return_value: hello\n"} {
		var out syncBuffer
		if err := e.runner.Test(context.Background(), e.d, e.d.Task(id), at, map[string]any{"region": "south"}, &out); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != want {
			t.Errorf("%s printed %q, want %q", id, got, want)
		}
	}
	got := seen.get("obj")
	if p, _ := json.Marshal(got.Params); string(p) != `{"region":"south"}` || got.Conf["region"] != "south" ||
		got.LogicalDate != "2026-02-03T04:05:06.5Z" || !got.DataIntervalEnd.Equal(at) {
		t.Errorf("task context: params %s conf %v logical %q interval end %v", p, got.Conf, got.LogicalDate, got.DataIntervalEnd)
	}
}
