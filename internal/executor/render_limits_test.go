package executor_test

import (
	"context"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// spinner is a command whose rendering never ends by itself once the
// step limit is lifted: it reads a variable first, so a test learns
// (through renderStarted) that rendering has begun.
const spinner = `"{{ var.value.render_started | default('') }}` +
	`{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"`

// renderStarted is the store, telling when a template reads a variable.
type renderStarted struct {
	store.Store
	once    sync.Once
	started chan struct{}
}

func (s *renderStarted) GetVariable(ctx context.Context, key string) (store.Variable, error) {
	s.once.Do(func() { close(s.started) })
	return s.Store.GetVariable(ctx, key)
}

// unboundedSteps lets a render run until its try's context ends.
func unboundedSteps(e *env) {
	e.runner.TemplateLimits = template.Limits{MaxSteps: math.MaxInt}
}

func TestRunTemplateOverALimitFailsTheTry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command, want string
	}{
		{"repetition", `"echo {{ ('x' * 2000000000) | length }}"`,
			"sirocco: render command: line 1: string repetition ('*') exceeded the limit of 1 MiB on a value"},
		{"output", `"echo {% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"`,
			"sirocco: render command: line 1: template exceeded 1 MiB of output"},
		{"steps", spinner, "sirocco: render command: line 1: template exceeded 250000 evaluation steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "dag_id: big\ntasks:\n  - {id: t, operator: bash, retries: 0, command: "+tt.command+"}\n")
			k := e.queue(e.createRun(nil), "t")
			if err := wait(t, e.runAsync(context.Background(), k), time.Minute); err != nil {
				t.Fatal(err)
			}
			if ti := e.ti(k); ti.State != store.StateFailed || len(ti.Handle) != 0 {
				t.Errorf("state %s handle %q; want failed with nothing run", ti.State, ti.Handle)
			}
			if log := e.log(k, 1); !strings.Contains(log, tt.want) {
				t.Errorf("log lacks %q:\n%s", tt.want, log)
			}
		})
	}
}

// TestRunKillStopsRendering: a try killed (marked failed) while its
// template spins stops rendering and ends failed, without a retry.
func TestRunKillStopsRendering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "dag_id: spin\ntasks:\n  - {id: t, operator: bash, retries: 3, command: "+spinner+"}\n")
	unboundedSteps(e)
	st := &renderStarted{Store: e.st, started: make(chan struct{})}
	e.runner.Store = st
	k := e.queue(e.createRun(nil), "t")
	done := e.runAsync(context.Background(), k)
	<-st.started
	e.runner.Kill(k)
	if err := wait(t, done, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ti := e.ti(k); ti.State != store.StateFailed || ti.TryNumber != 1 {
		t.Errorf("state %s try %d; want failed try 1 although retries remain", ti.State, ti.TryNumber)
	}
	if log := e.log(k, 1); !strings.Contains(log, "sirocco: killed (render command: line 1: template rendering stopped: killed)") {
		t.Errorf("log should say rendering was stopped by the kill:\n%s", log)
	}
}

// TestLocalMarkFailedStopsRendering: a user marking a try failed (as the
// API and `tasks mark` do) while its template spins stops the render at
// the next heartbeat; the try keeps the state the user gave it.
func TestLocalMarkFailedStopsRendering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "dag_id: spin\ntasks:\n  - {id: t, operator: bash, retries: 3, command: "+spinner+"}\n")
	unboundedSteps(e)
	st := &renderStarted{Store: e.st, started: make(chan struct{})}
	e.runner.Store = st
	l, finished, _ := startLocal(t, e)
	k := e.queue(e.createRun(nil), "t")
	l.Submit(k)
	<-st.started
	if _, err := actions.Mark(context.Background(), e.st, k, store.StateFailed, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	waitFinished(t, finished)
	if ti := e.ti(k); ti.State != store.StateFailed || ti.TryNumber != 1 {
		t.Errorf("state %s try %d; want failed try 1, as marked", ti.State, ti.TryNumber)
	}
	if log := e.log(k, 1); !strings.Contains(log, "template rendering stopped: killed: the task instance is now \"failed\"") {
		t.Errorf("log should say the mark stopped rendering:\n%s", log)
	}
}

// TestRunShutdownStopsRendering: Sirocco's shutdown (SIGTERM cancels the
// context every try runs under) while a template spins stops rendering at
// once; the try is given back without spending a retry, as any try stopped
// by shutdown, instead of holding the shutdown until the render ends.
func TestRunShutdownStopsRendering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "dag_id: spin\ntasks:\n  - {id: t, operator: bash, retries: 0, command: "+spinner+"}\n")
	unboundedSteps(e)
	st := &renderStarted{Store: e.st, started: make(chan struct{})}
	e.runner.Store = st
	k := e.queue(e.createRun(nil), "t")
	ctx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	done := e.runAsync(ctx, k)
	<-st.started
	shutdown()
	_ = wait(t, done, time.Minute)
	if ti := e.ti(k); ti.State != store.StateNone || ti.TryNumber != 1 || ti.InfraReruns != 1 {
		t.Errorf("state %s try %d infra_reruns %d; want none, given back without spending a retry", ti.State, ti.TryNumber, ti.InfraReruns)
	}
	log := e.log(k, 1)
	for _, want := range []string{"template rendering stopped", "try 1 of t stopped by shutdown; it runs again at the next start"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestRunExecutionTimeoutCoversRendering: execution_timeout bounds the
// rendering of the try's templates too.
func TestRunExecutionTimeoutCoversRendering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "dag_id: slow_render\ntasks:\n  - {id: t, operator: bash, retries: 1, execution_timeout: 300ms, command: "+spinner+"}\n")
	unboundedSteps(e)
	k := e.queue(e.createRun(nil), "t")
	if err := wait(t, e.runAsync(context.Background(), k), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ti := e.ti(k); ti.State != store.StateUpForRetry {
		t.Errorf("state %s; want up_for_retry", ti.State)
	}
	if log := e.log(k, 1); !strings.Contains(log, "sirocco: execution_timeout of 300ms exceeded (render command: line 1: template rendering stopped: execution_timeout of 300ms exceeded)") {
		t.Errorf("log should name the timeout:\n%s", log)
	}
}

// TestRunnerRenderAndTestKeepToTheTimeout: `tasks render` and `tasks test`
// render within the task's execution_timeout and the command's context.
func TestRunnerRenderAndTestKeepToTheTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "dag_id: slow_render\ntasks:\n  - {id: t, operator: bash, execution_timeout: 300ms, command: "+spinner+"}\n")
	unboundedSteps(e)
	runID := e.createRun(nil)
	run, err := e.st.GetRun(context.Background(), "slow_render", runID)
	if err != nil {
		t.Fatal(err)
	}
	const want = "render command: line 1: template rendering stopped: execution_timeout of 300ms exceeded"
	if _, err := e.runner.Render(context.Background(), e.d, e.d.Task("t"), run, store.TaskKey{DagID: e.d.ID, RunID: run.RunID, TaskID: "t"}, 1); err == nil || err.Error() != want {
		t.Errorf("Render = %v, want %q", err, want)
	}
	var out strings.Builder
	if err := e.runner.Test(context.Background(), e.d, e.d.Task("t"), logicalDate, nil, &out); err == nil || err.Error() != want {
		t.Errorf("Test = %v, want %q", err, want)
	}
}

// TestRunUnknownOperatorFailsTheTry: an operator that left the registry
// after the DAG was loaded fails the try (the claim now comes first).
func TestRunUnknownOperatorFailsTheTry(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, "dag_id: gone\ntasks:\n  - {id: t, operator: bash, retries: 0, command: 'echo {{ ds }}'}\n", maps.Clone(all.Registry()))
	delete(e.runner.Operators, "bash")
	k := e.queue(e.createRun(nil), "t")
	if err := e.runner.Run(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if ti := e.ti(k); ti.State != store.StateFailed {
		t.Errorf("state %s, want failed", ti.State)
	}
	if log := e.log(k, 1); !strings.Contains(log, `sirocco: unknown operator "bash"`) {
		t.Errorf("log:\n%s", log)
	}
}
