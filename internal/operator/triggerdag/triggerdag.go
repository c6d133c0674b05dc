// Package triggerdag is Airflow's TriggerDagRunOperator: a task that
// creates a run of another DAG (or clears and reruns an existing one) and
// optionally waits for it to finish.
//
// The triggered run's id is the try's handle, saved before the run is
// created: after a restart the adopted try finds the same run (creating
// it if the crash came before) and waits on it again, so a DAG is never
// triggered twice by one try.
package triggerdag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Spec declares the operator's fields, Airflow's names and defaults.
var Spec = dag.OperatorSpec{
	Name: "trigger_dag",
	Description: "Create a run of another DAG (Airflow's TriggerDagRunOperator), with a conf and a logical date; " +
		"optionally clear an existing run instead and wait for the run to finish.",
	Fields: []dag.FieldSpec{
		{Name: "trigger_dag_id", Kind: dag.FieldString, Required: true, Templated: true, Description: "The DAG to trigger."},
		{Name: "trigger_run_id", Kind: dag.FieldString, Templated: true,
			Description: "Run id of the new run (default manual__<logical date>)."},
		{Name: "conf", Kind: dag.FieldAny, Templated: true,
			Description: "The run's conf (dag_run.conf): a mapping, checked against the triggered DAG's params."},
		{Name: "logical_date", Kind: dag.FieldString, Templated: true,
			Description: "Logical date of the new run (YYYY-MM-DD or RFC 3339; default now)."},
		{Name: "reset_dag_run", Kind: dag.FieldBool, Default: false,
			Description: "When a run with that id or logical date exists, clear it so it runs again, instead of failing."},
		{Name: "skip_when_already_exists", Kind: dag.FieldBool, Default: false,
			Description: "When the run exists (and reset_dag_run is false), end as skipped instead of failing."},
		{Name: "wait_for_completion", Kind: dag.FieldBool, Default: false,
			Description: "Wait until the triggered run is in allowed_states (success) or failed_states (failure)."},
		{Name: "poke_interval", Kind: dag.FieldDuration, Default: 60 * time.Second,
			Description: "How often the triggered run's state is read while waiting."},
		{Name: "allowed_states", Kind: dag.FieldStringList, Default: []string{"success"},
			Description: "Run states that end the wait successfully."},
		{Name: "failed_states", Kind: dag.FieldStringList, Default: []string{"failed"},
			Description: "Run states that fail the task."},
		{Name: "fail_when_dag_is_paused", Kind: dag.FieldBool, Default: false,
			Description: "Fail instead of triggering when the DAG is paused (Airflow 3)."},
	},
}

// Factory registers the operator; its recoverer resumes waiting on the
// triggered run after a restart.
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }, Recoverer: Recoverer{}}

// Operator triggers a run.
type Operator struct{}

// testRun is the run type of `dags test`.
const testRun = string(store.RunTest)

// HandleKind is the kind of the handles this operator stores.
const HandleKind = "trigger_dag"

// handle is what a try stores before it creates the run: everything needed
// to finish the trigger and the wait after a restart.
type handle struct {
	Kind        string         `json:"kind"`
	Version     int            `json:"version"`
	DagID       string         `json:"dag_id"`
	RunID       string         `json:"run_id"`
	LogicalDate time.Time      `json:"logical_date"`
	Conf        map[string]any `json:"conf,omitempty"`
	Reset       bool           `json:"reset_dag_run,omitempty"`
	SkipExists  bool           `json:"skip_when_already_exists,omitempty"`
	// Existed is set when a run with RunID existed before the try: a
	// resumed try then does not take it for the run it created.
	Existed bool `json:"existed,omitempty"`
	// Clearing is saved just before a reset_dag_run clear of run RunID,
	// with the run's state and queued_at then: a resumed try clears it
	// again only if that clear did not happen.
	Clearing      bool      `json:"clearing,omitempty"`
	ClearFrom     string    `json:"clear_from,omitempty"`
	ClearQueuedAt time.Time `json:"clear_queued_at,omitzero"`
	// Triggered is set once the run was created or cleared: a resumed
	// try then only waits.
	Triggered bool     `json:"triggered,omitempty"`
	Wait      bool     `json:"wait_for_completion,omitempty"`
	Poke      string   `json:"poke_interval,omitempty"`
	Allowed   []string `json:"allowed_states,omitempty"`
	Failed    []string `json:"failed_states,omitempty"`
}

// Execute checks the fields, saves the handle, triggers and waits.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	if t.Runs == nil {
		return operator.Result{}, errors.New("trigger_dag cannot reach the database from this worker")
	}
	h, err := newHandle(t)
	if err != nil {
		return operator.Result{}, err
	}
	f := operator.FieldsOf(Spec, t.Args)
	if f.Bool("fail_when_dag_is_paused") {
		paused, err := t.Runs.Paused(ctx, h.DagID)
		if err != nil {
			return operator.Result{}, fmt.Errorf("read whether %s is paused: %w", h.DagID, err)
		}
		if paused {
			return operator.Result{}, fmt.Errorf("DAG %s is paused (fail_when_dag_is_paused)", h.DagID)
		}
	}
	if h.Existed, err = exists(ctx, t, h); err != nil {
		return operator.Result{}, err
	}
	if err := retried(ctx, t, &h); err != nil {
		return operator.Result{}, err
	}
	if err := save(ctx, t, h); err != nil {
		return operator.Result{}, err
	}
	return run(ctx, t, h)
}

// retried makes a retry take the run an earlier try of this task
// instance triggered (its trigger_run_id XCom, pushed once triggered)
// instead of triggering a second one: it waits on that run again, or
// with reset_dag_run clears it and waits. A cleared task lost that XCom
// and triggers anew. So does a retry after a run that ended in one of
// failed_states (what failed the earlier try): waiting on it again could
// only fail again, and Airflow's retry triggers a new run too.
func retried(ctx context.Context, t *operator.Task, h *handle) error {
	if t.TryNumber < 2 || t.OwnXCom == nil {
		return nil
	}
	id, ok, err := t.OwnXCom(ctx, "trigger_run_id")
	if err != nil || !ok {
		return err
	}
	runID := jsonString(id)
	if runID == "" {
		return nil // not a run id of ours: trigger anew
	}
	info, err := t.Runs.Run(ctx, h.DagID, runID)
	if errors.Is(err, operator.ErrRunNotFound) {
		return nil // deleted since: trigger anew
	}
	if err != nil && !errors.Is(err, operator.ErrDAGNotLoaded) {
		return fmt.Errorf("read %s run %s of the earlier try: %w", h.DagID, runID, err)
	}
	// A new run that would reuse the failed run's id (a fixed
	// trigger_run_id) or logical date cannot be created: the retry then
	// fails on the failed run as before, and skip_when_already_exists,
	// for a run that is not this task's, does not skip it.
	replaceable := h.RunID != info.RunID && !h.LogicalDate.Equal(info.LogicalDate)
	if err == nil && !h.Reset && replaceable && slices.Contains(h.Failed, info.State) {
		fmt.Fprintf(t.Log, "sirocco: %s run %s, which an earlier try triggered, ended %s: try %d triggers a new run\n",
			h.DagID, runID, info.State, t.TryNumber)
		return nil
	}
	h.RunID, h.LogicalDate = info.RunID, info.LogicalDate
	h.Existed, h.Triggered = h.Reset, !h.Reset
	fmt.Fprintf(t.Log, "sirocco: try %d takes %s run %s, which an earlier try triggered, instead of triggering another\n",
		t.TryNumber, h.DagID, runID)
	return nil
}

// jsonString is the JSON string b holds, "" when it holds none.
func jsonString(b []byte) string {
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}

// exists reports whether run h.RunID of h.DagID exists.
func exists(ctx context.Context, t *operator.Task, h handle) (bool, error) {
	_, err := t.Runs.Run(ctx, h.DagID, h.RunID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, operator.ErrRunNotFound):
		return false, nil
	}
	return false, fmt.Errorf("read %s run %s: %w", h.DagID, h.RunID, err)
}

// newHandle reads the rendered fields into the handle of a new trigger.
func newHandle(t *operator.Task) (handle, error) {
	f := operator.FieldsOf(Spec, t.Args)
	h := handle{Kind: HandleKind, Version: 1, DagID: strings.TrimSpace(f.String("trigger_dag_id")),
		Reset: f.Bool("reset_dag_run"), SkipExists: f.Bool("skip_when_already_exists"),
		Wait: f.Bool("wait_for_completion"), Poke: f.Duration("poke_interval").String(),
		Allowed: f.Strings("allowed_states"), Failed: f.Strings("failed_states")}
	if h.DagID == "" {
		return h, errors.New("trigger_dag_id is empty once rendered")
	}
	if f.Duration("poke_interval") <= 0 {
		return h, fmt.Errorf("poke_interval must be positive, got %s", h.Poke)
	}
	if err := checkStates(h.Allowed, h.Failed); err != nil {
		return h, err
	}
	h.LogicalDate = time.Now().UTC().Truncate(time.Microsecond)
	if s := strings.TrimSpace(f.String("logical_date")); s != "" {
		at, err := parseDate(s)
		if err != nil {
			return h, fmt.Errorf("logical_date %q: %w", s, err)
		}
		h.LogicalDate = at
	}
	h.RunID = strings.TrimSpace(f.String("trigger_run_id"))
	if h.RunID == "" {
		h.RunID = scheduler.RunID(store.RunManual, h.LogicalDate)
	}
	conf, err := confOf(t.Args["conf"])
	if err != nil {
		return h, err
	}
	h.Conf = conf
	return h, nil
}

// parseDate reads a rendered logical_date: YYYY-MM-DD, RFC 3339, or the
// "YYYY-MM-DD HH:MM:SS+00:00" text a rendered datetime ({{ logical_date }})
// gives.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05-07:00", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, errors.New("want YYYY-MM-DD or an RFC 3339 date and time")
}

// confOf takes the rendered conf: a mapping, or JSON text of one (a
// template that renders a whole dict).
func confOf(v any) (map[string]any, error) {
	switch c := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return c, nil
	case string:
		if strings.TrimSpace(c) == "" {
			return nil, nil
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(c), &m); err != nil {
			return nil, fmt.Errorf("conf renders to %q, not a mapping (JSON object): %w", clip(c), err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("conf must be a mapping, not %T", v)
}

func checkStates(allowed, failed []string) error {
	known := []string{"queued", "running", "success", "failed"}
	for _, s := range append(slices.Clone(allowed), failed...) {
		if !slices.Contains(known, s) {
			return fmt.Errorf("unknown run state %q in allowed_states or failed_states (known: %s)", s, strings.Join(known, ", "))
		}
	}
	for _, s := range allowed {
		if slices.Contains(failed, s) {
			return fmt.Errorf("run state %q is in both allowed_states and failed_states", s)
		}
	}
	return nil
}

func save(ctx context.Context, t *operator.Task, h handle) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode handle: %w", err)
	}
	if t.SaveHandle == nil {
		return nil
	}
	if err := t.SaveHandle(ctx, b); err != nil {
		return fmt.Errorf("save handle of the run to trigger: %w", err)
	}
	return nil
}

// run triggers the run of h unless that is done, then waits if asked.
func run(ctx context.Context, t *operator.Task, h handle) (operator.Result, error) {
	if !h.Triggered {
		skip, err := trigger(ctx, t, &h)
		if err != nil || skip {
			return operator.Result{}, err
		}
		h.Triggered = true
		if err := save(ctx, t, h); err != nil {
			return operator.Result{}, err
		}
	}
	res, err := result(h)
	if err != nil || !h.Wait {
		return res, err
	}
	if err := pushEarly(ctx, t, res); err != nil {
		return operator.Result{}, err
	}
	if t.RunType == testRun {
		// `dags test` runs its own run only: nothing here would run the
		// triggered one, so waiting would never end.
		fmt.Fprintf(t.Log, "sirocco: dags test does not run %s run %s, so it does not wait for it (a scheduler will run it)\n",
			h.DagID, h.RunID)
		return res, nil
	}
	return res, wait(ctx, t, h)
}

// pushEarly pushes the result's XComs before the wait, as Airflow pushes
// trigger_run_id as soon as the run is triggered: a failed wait leaves
// them, and other tasks may read them meanwhile.
func pushEarly(ctx context.Context, t *operator.Task, res operator.Result) error {
	if t.PushXCom == nil {
		return nil
	}
	for _, key := range []string{"trigger_run_id", "trigger_logical_date_iso"} {
		if err := t.PushXCom(ctx, key, res.XComs[key]); err != nil {
			return err
		}
	}
	return nil
}

// result pushes Airflow's XComs: trigger_run_id and
// trigger_logical_date_iso.
func result(h handle) (operator.Result, error) {
	id, err := json.Marshal(h.RunID)
	if err != nil {
		return operator.Result{}, err
	}
	at, err := json.Marshal(h.LogicalDate.Format(time.RFC3339Nano))
	if err != nil {
		return operator.Result{}, err
	}
	return operator.Result{XComs: map[string][]byte{"trigger_run_id": id, "trigger_logical_date_iso": at}}, nil
}

// trigger creates the run, or clears the existing one with reset_dag_run.
// A run of the same id found on a resumed try's first trigger is the one
// it created before the crash. skip reports skip_when_already_exists.
func trigger(ctx context.Context, t *operator.Task, h *handle) (skip bool, err error) {
	info, err := t.Runs.Trigger(ctx, operator.TriggerRequest{DagID: h.DagID, RunID: h.RunID, LogicalDate: h.LogicalDate, Conf: h.Conf})
	if err == nil {
		fmt.Fprintf(t.Log, "sirocco: triggered %s run %s (logical date %s)\n", h.DagID, info.RunID, info.LogicalDate.Format(time.RFC3339))
		return false, nil
	}
	if !errors.Is(err, operator.ErrRunExists) {
		return false, err
	}
	switch {
	case h.Reset:
		return false, reset(ctx, t, h, info)
	case h.SkipExists:
		fmt.Fprintf(t.Log, "sirocco: %v; skipped (skip_when_already_exists)\n", err)
		return true, operator.ErrSkip
	}
	return false, fmt.Errorf("%w (set reset_dag_run to rerun it, or skip_when_already_exists)", err)
}

// reset clears the existing run info (reset_dag_run), saving first which
// run it clears and how that run stood, so that a try resumed after a
// crash around the clear does not clear it a second time (its tasks would
// run twice).
func reset(ctx context.Context, t *operator.Task, h *handle, info operator.RunInfo) error {
	if h.Clearing && h.RunID == info.RunID && cleared(*h, info) {
		fmt.Fprintf(t.Log, "sirocco: %s run %s was cleared before the restart (reset_dag_run)\n", h.DagID, info.RunID)
		return nil
	}
	requested := h.RunID
	h.RunID, h.Clearing, h.ClearFrom, h.ClearQueuedAt = info.RunID, true, info.State, info.QueuedAt
	if err := save(ctx, t, *h); err != nil {
		return err
	}
	err := t.Runs.Clear(ctx, h.DagID, info.RunID)
	if errors.Is(err, operator.ErrRunNotFound) {
		return recreate(ctx, t, h, requested)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(t.Log, "sirocco: cleared %s run %s, which existed (reset_dag_run)\n", h.DagID, info.RunID)
	return nil
}

// recreate creates the run asked for when the existing run a reset was
// about to clear was deleted meanwhile (a race with a delete): the try
// then waits on a run of its own rather than failing on a run that is
// gone. A second collision (another trigger won the race) fails the try.
func recreate(ctx context.Context, t *operator.Task, h *handle, requested string) error {
	fmt.Fprintf(t.Log, "sirocco: %s run %s was deleted before its clear (reset_dag_run); triggering %s\n", h.DagID, h.RunID, requested)
	h.RunID, h.Existed, h.Clearing, h.ClearFrom, h.ClearQueuedAt = requested, false, false, "", time.Time{}
	if err := save(ctx, t, *h); err != nil {
		return err
	}
	info, err := t.Runs.Trigger(ctx, operator.TriggerRequest{DagID: h.DagID, RunID: requested, LogicalDate: h.LogicalDate, Conf: h.Conf})
	if err != nil {
		return fmt.Errorf("trigger %s run %s after the run to reset was deleted: %w", h.DagID, requested, err)
	}
	fmt.Fprintf(t.Log, "sirocco: triggered %s run %s (logical date %s)\n", h.DagID, info.RunID, info.LogicalDate.Format(time.RFC3339))
	return nil
}

// cleared reports whether the clear h.Clearing announced happened: a
// finished run's clear requeues it (queued_at moves on); an unfinished
// run is not cleared again, as its tasks run anyway.
func cleared(h handle, now operator.RunInfo) bool {
	if h.ClearFrom != "success" && h.ClearFrom != "failed" {
		return true
	}
	return now.QueuedAt.After(h.ClearQueuedAt)
}

// wait polls the run's state every poke_interval until it is in
// allowed_states or failed_states.
func wait(ctx context.Context, t *operator.Task, h handle) error {
	poke, err := time.ParseDuration(h.Poke)
	if err != nil || poke <= 0 {
		poke = time.Minute
	}
	fmt.Fprintf(t.Log, "sirocco: waiting for %s run %s to be %s (every %s)\n", h.DagID, h.RunID, strings.Join(h.Allowed, " or "), poke)
	tick := time.NewTicker(poke)
	defer tick.Stop()
	for {
		info, err := t.Runs.Run(ctx, h.DagID, h.RunID)
		switch {
		case errors.Is(err, operator.ErrRunNotFound):
			return fmt.Errorf("%s run %s is gone (deleted while waiting)", h.DagID, h.RunID)
		case errors.Is(err, operator.ErrDAGNotLoaded):
			return fmt.Errorf("%s run %s is %s and will not run: %w", h.DagID, h.RunID, info.State, err)
		case err != nil && ctx.Err() != nil:
			// The try is ending (a timeout, a kill): the read failed for
			// that, not for the database; the select below says why.
		case err != nil:
			fmt.Fprintf(t.Log, "sirocco: cannot read %s run %s (%v); trying again\n", h.DagID, h.RunID, err)
		case slices.Contains(h.Failed, info.State):
			return fmt.Errorf("%s run %s ended %s (failed_states %s)", h.DagID, h.RunID, info.State, strings.Join(h.Failed, ", "))
		case slices.Contains(h.Allowed, info.State):
			fmt.Fprintf(t.Log, "sirocco: %s run %s is %s\n", h.DagID, h.RunID, info.State)
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), operator.ErrDetach) {
				return operator.ErrDetach // the run goes on; whoever adopts the try waits again
			}
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Recoverer resumes a trigger_dag try after a restart: the run it named
// goes on without Sirocco, so the try is adopted and waits on it again.
type Recoverer struct{}

// HandleKinds implements operator.Recoverer.
func (Recoverer) HandleKinds() []string { return []string{HandleKind} }

// CanResume implements operator.Recoverer: every trigger_dag handle is.
func (Recoverer) CanResume([]byte) bool { return true }

// Resume finishes the trigger (if the crash came before it) and the wait.
func (Recoverer) Resume(ctx context.Context, t *operator.Task, b []byte) (operator.Result, error) {
	var h handle
	if err := json.Unmarshal(b, &h); err != nil {
		return operator.Result{}, fmt.Errorf("decode trigger_dag handle: %w", err)
	}
	if t.Runs == nil {
		return operator.Result{}, errors.New("trigger_dag cannot reach the database from this worker")
	}
	if !h.Triggered && !h.Existed && !h.Clearing {
		// Created before the crash, or not: the run id decides, so the
		// DAG is triggered once. A run that existed before the try is
		// not this try's: the trigger (reset, skip or fail) is redone.
		if _, err := t.Runs.Run(ctx, h.DagID, h.RunID); err == nil {
			h.Triggered = true
		}
	}
	fmt.Fprintf(t.Log, "sirocco: resuming the trigger of %s run %s\n", h.DagID, h.RunID)
	return run(ctx, t, h)
}

// Stop implements operator.Recoverer: the triggered run is not this try's
// to stop (Airflow's operator leaves it running on kill too).
func (Recoverer) Stop(context.Context, *operator.Task, []byte) error { return nil }
