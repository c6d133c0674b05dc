package executor_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// probeOp is an operator with connection fields that only says it ran:
// whether the operator was reached is what these tests look at.
type probeOp struct{}

func (probeOp) Execute(_ context.Context, t *operator.Task) (operator.Result, error) {
	fmt.Fprintln(t.Log, "probe executed")
	return operator.Result{}, nil
}

// preflightEnv is an env with the probe operator, connections resolved
// from SIROCCO_CONN_UP (a listener) and SIROCCO_CONN_DOWN (a closed port).
func preflightEnv(t *testing.T, yaml string) *env {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // the kernel completes the handshakes; nothing need accept
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	t.Setenv("SIROCCO_CONN_UP", "postgres://u:up-Secret-1@"+ln.Addr().String()+"/x")
	t.Setenv("SIROCCO_CONN_DOWN", "postgres://u:down-Secret-2@"+closed.Addr().String()+"/x")
	ops := maps.Clone(all.Registry())
	ops["probe"] = operator.Factory{Spec: dag.OperatorSpec{Name: "probe", Fields: []dag.FieldSpec{
		{Name: "conn_id", Kind: dag.FieldString, Templated: true}, {Name: "ssh_conn_id", Kind: dag.FieldString},
	}}, New: func() operator.Operator { return probeOp{} }}
	e := newEnvWith(t, yaml, ops)
	keys, err := connection.NewKeyring(bytes.Repeat([]byte{5}, connection.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Connections = &connection.Resolver{Store: e.st, Keys: keys}
	return e
}

// TestTaskPreflight: a task with preflight checks its connections before
// its operator runs; a failed check fails the try at once (up_for_retry:
// retries apply) with the report in the log and the operator never
// reached; a passing one goes on to the operator. Secrets stay masked.
func TestTaskPreflight(t *testing.T) {
	e := preflightEnv(t, `
dag_id: pre
default_args: {retries: 1, retry_delay: 1s}
tasks:
  - {id: bad, operator: probe, preflight: true, conn_id: "{{ 'do' ~ 'wn' }}"}
  - {id: good, operator: probe, preflight: true, conn_id: up, ssh_conn_id: up}
  - {id: unchecked, operator: probe, conn_id: down}
`)
	run := e.createRun(nil)
	cases := []struct {
		task      string
		state     store.TaskState
		want, not []string
	}{
		{"bad", store.StateUpForRetry, []string{"sirocco: preflight: checking connection(s) down",
			"Connection down (postgres)", "FAILED  tcp", "connection refused",
			"sirocco: task failed: preflight: connection down: failed at tcp: dial tcp"},
			[]string{"probe executed", "down-Secret-2"}},
		{"good", store.StateSuccess, []string{"sirocco: preflight: checking connection(s) up\n", "Result: ok (2 step(s)", "probe executed"},
			[]string{"up-Secret-1"}},
		{"unchecked", store.StateSuccess, []string{"probe executed"}, []string{"preflight"}},
	}
	for _, tc := range cases {
		k := e.queue(run, tc.task)
		start := time.Now()
		if err := e.runner.Run(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: the try took %s; a refused port must fail fast", tc.task, took)
		}
		if ti := e.ti(k); ti.State != tc.state {
			t.Errorf("%s: state %s, want %s", tc.task, ti.State, tc.state)
		}
		log := e.log(k, 1)
		for _, w := range tc.want {
			if !strings.Contains(log, w) {
				t.Errorf("%s: log lacks %q:\n%s", tc.task, w, log)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(log, w) {
				t.Errorf("%s: log has %q:\n%s", tc.task, w, log)
			}
		}
	}
}

// TestDAGPreflight: a DAG's preflight is checked by its first tasks only
// (those without upstream tasks), before their operator runs.
func TestDAGPreflight(t *testing.T) {
	e := preflightEnv(t, `
dag_id: pre_dag
preflight: [up, down]
tasks:
  - {id: first, operator: probe}
  - {id: second, operator: probe, depends_on: first}
`)
	run := e.createRun(nil)
	first := e.queue(run, "first")
	if err := e.runner.Run(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	log := e.log(first, 1)
	if ti := e.ti(first); ti.State != store.StateFailed || !strings.Contains(log, "Connection up (postgres)") ||
		!strings.Contains(log, "preflight: connection down: failed at tcp") || strings.Contains(log, "probe executed") {
		t.Errorf("first: state %s, log:\n%s", ti.State, log)
	}
	second := e.queue(run, "second")
	if err := e.runner.Run(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if log := e.log(second, 1); strings.Contains(log, "preflight") || !strings.Contains(log, "probe executed") {
		t.Errorf("second checked the DAG's preflight:\n%s", log)
	}
}

// TestTasksTestRunsPreflight: `tasks test` checks as a try would.
func TestTasksTestRunsPreflight(t *testing.T) {
	e := preflightEnv(t, "dag_id: pre_test\ntasks:\n  - {id: bad, operator: probe, preflight: true, conn_id: down}\n")
	var out bytes.Buffer
	err := e.runner.Test(context.Background(), e.d, e.d.Task("bad"), logicalDate, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "preflight: connection down") || !strings.Contains(out.String(), "FAILED  tcp") ||
		strings.Contains(out.String(), "probe executed") {
		t.Errorf("tasks test: %v\n%s", err, out.String())
	}
}
