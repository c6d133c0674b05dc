package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// The operators whose result decides which downstream tasks run (Airflow's
// BranchPythonOperator and ShortCircuitOperator). Their tries store the
// result as the return_value XCom before their success is written; the
// scheduler reads it from there, as Airflow's NotPreviouslySkippedDep
// reads the branch's XCom, so the skips follow from stored facts and come
// out the same after a crash, a restart or a clear.
const (
	BranchOperator       = "branch"
	ShortCircuitOperator = "short_circuit"
	// LatestOnlyOperator follows every direct downstream task in the
	// latest run and none in the others (Airflow's LatestOnlyOperator, a
	// branch operator too); its result is a branch's.
	LatestOnlyOperator = "latest_only"
	// IgnoreDownstreamTriggerRules is short_circuit's field: true (the
	// default, as Airflow's) skips every task downstream whatever its
	// trigger rule; false skips the direct downstream tasks and lets
	// trigger rules decide below them.
	IgnoreDownstreamTriggerRules = "ignore_downstream_trigger_rules"
)

// Branching reports whether tasks of operator op decide which of their
// downstream tasks run.
func Branching(op string) bool {
	return op == BranchOperator || op == ShortCircuitOperator || op == LatestOnlyOperator
}

// Choice is what a successful branch or short_circuit try decided.
type Choice struct {
	// All means nothing is skipped: a truthy short_circuit, or a task
	// marked success by hand, which stored no result (Airflow then skips
	// nothing either).
	All bool
	// Follow lists the tasks a branch follows; with All false and no
	// Follow, a branch follows none and a short_circuit stops.
	Follow []string
}

// DecodeChoice reads the stored return_value (JSON text) of a successful
// try of a task of operator op.
func DecodeChoice(op, value string) (Choice, error) {
	switch op {
	case BranchOperator, LatestOnlyOperator:
		ids, err := BranchIDs(value)
		if err != nil {
			return Choice{}, err
		}
		return Choice{Follow: ids}, nil
	case ShortCircuitOperator:
		v, err := decodeJSON(value)
		if err != nil {
			return Choice{}, fmt.Errorf("short_circuit result (%d bytes): %w", len(value), err)
		}
		return Choice{All: Truthy(v)}, nil
	}
	return Choice{}, fmt.Errorf("operator %q does not branch", op)
}

// BranchIDs decodes a branch result: a task id (JSON string), a JSON list
// of them, or null; the ids come back in order without repeats. Its errors
// describe the value without quoting it: they reach the scheduler's log,
// and an XCom may hold anything a task returned.
func BranchIDs(value string) ([]string, error) {
	v, err := decodeJSON(value)
	if err != nil {
		return nil, fmt.Errorf("branch result (%d bytes): %w", len(value), err)
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		ids := make([]string, 0, len(v))
		for _, e := range v {
			id, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("branch result: the list holds %s, not a task id (a string)", jsonKind(e))
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	return nil, fmt.Errorf("branch result: want a task id, a list of task ids or null, not %s", jsonKind(v))
}

// decodeJSON decodes one JSON value, numbers kept exact.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not one JSON value: text follows it")
	}
	return v, nil
}

// Truthy is Python's truth value of a decoded JSON value: null, false,
// zero, "" and empty lists and objects are false, the rest true. It is
// what ShortCircuitOperator applies to its callable's result.
func Truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case json.Number:
		f, err := v.Float64()
		return err != nil || f != 0 // too large for a float: not zero
	case float64:
		return v != 0
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// gate is what the finished branching tasks of a run say about a task.
type gate uint8

const (
	open gate = iota
	// held: an upstream branching task succeeded but its choice is not
	// known yet (not read from the store): the task must not start.
	held
	// skipped: a branching task decided the task does not run, whatever
	// its trigger rule says.
	gateSkipped
)

// branchGates returns, for one run, the tasks (by position) that its
// successful branch and short_circuit tasks skip or hold; nil when none.
// task gives the DAG task at a position (nil if it left the DAG) and at
// the position of a task id (-1 if the run has no instance of it).
func branchGates(s Snapshot, d *dag.DAG, tis []*store.TaskInstance, task func(int) *dag.Task, at func(string) []int) map[int]gate {
	var gates map[int]gate
	set := func(id string, g gate) {
		for _, i := range at(id) { // every instance of a mapped task
			if gates[i] >= g {
				continue
			}
			if gates == nil {
				gates = map[int]gate{}
			}
			gates[i] = g
		}
	}
	for i, ti := range tis {
		if ti.State != store.StateSuccess {
			continue
		}
		t := task(i)
		if t == nil || !Branching(t.Operator) {
			continue
		}
		c, known := s.Choices[ti.TaskKey]
		for _, id := range gatedBy(d, t, c, known) {
			g := gateSkipped
			if !known {
				g = held
			}
			set(id, g)
		}
	}
	return gates
}

// gatedBy lists the tasks a successful branching task t skips by its
// choice c or, when the choice is not known, the tasks that wait for it.
func gatedBy(d *dag.DAG, t *dag.Task, c Choice, known bool) []string {
	if known && c.All {
		return nil
	}
	if t.Operator == ShortCircuitOperator {
		if ignore, ok := t.Args[IgnoreDownstreamTriggerRules].(bool); ok && !ignore {
			return d.Downstream(t.ID)
		}
		return slices.DeleteFunc(d.DownstreamClosure(t.ID), func(id string) bool { return id == t.ID })
	}
	if !known {
		return d.Downstream(t.ID)
	}
	// As Airflow's skip_all_except: a direct downstream task that is also
	// downstream of a followed one (the join after an empty branch) is
	// followed too.
	followed := map[string]bool{}
	for _, id := range c.Follow {
		for _, x := range d.DownstreamClosure(id) {
			followed[x] = true
		}
	}
	var skip []string
	for _, x := range d.Downstream(t.ID) {
		if !followed[x] {
			skip = append(skip, x)
		}
	}
	return skip
}

// notStarted reports a state whose task has no try under way: it waits for
// its upstream tasks, a slot, an executor or its retry delay.
func notStarted(st store.TaskState) bool {
	switch st {
	case store.StateNone, store.StateScheduled, store.StateQueued, store.StateUpForRetry, store.StateUpForReschedule:
		return true
	}
	return false
}

// skipByBranch writes the skip a branching task decided for ti, as
// Airflow's SkipMixin does (its update names no state): a task that has
// not started, or waits for a retry or a reschedule, is skipped from that
// state; a running try whose worker is alive is skipped too, and its
// worker stops it at its next heartbeat, as when a user marks it. A
// running try of a gone worker is left to the zombie and adoption rules,
// which stop or adopt its work (skipping it would orphan a cluster
// driver); a finished task keeps its state. It reports whether it wrote.
func (p *Plan) skipByBranch(s Snapshot, ti *store.TaskInstance, now time.Time) bool {
	switch {
	case notStarted(ti.State):
		p.finish(ti, store.StateSkipped, now)
		return true
	case ti.State == store.StateRunning && !p.isZombie(s, ti):
		end := now
		p.TaskUpdates = append(p.TaskUpdates, store.TaskUpdate{Key: ti.TaskKey,
			From: []store.TaskState{store.StateRunning}, FromWorker: &ti.WorkerID, To: store.StateSkipped, EndDate: &end})
		return true
	}
	return false
}
