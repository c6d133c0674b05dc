package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// settle runs Decide until nothing changes, every queued task ending in
// success; a branching task's success comes with choice (nil: not known to
// the scheduler). It returns the final states.
func settle(t *testing.T, w *world, choice *Choice) map[string]store.TaskState {
	t.Helper()
	for round := 0; ; round++ {
		if round > 50 {
			t.Fatal("no fixed point after 50 ticks")
		}
		p := Decide(w.snap)
		queued := w.apply(p)
		for _, k := range queued {
			ti := w.ti(k.RunID, k.TaskID)
			ti.State = store.StateSuccess
			if Branching(w.snap.DAGs[k.DagID].Task(k.TaskID).Operator) && choice != nil {
				if w.snap.Choices == nil {
					w.snap.Choices = map[store.TaskKey]Choice{}
				}
				w.snap.Choices[k] = *choice
			}
		}
		if len(p.TaskUpdates) == 0 && len(p.RunUpdates) == 0 {
			break
		}
	}
	out := map[string]store.TaskState{}
	for _, ti := range w.snap.TIs {
		out[ti.TaskID] = ti.State
	}
	return out
}

func follow(ids ...string) *Choice { return &Choice{Follow: ids} }

// branchDAG is branch → a → join, branch → b → join, join → after.
func branchDAG(t *testing.T, rule dag.TriggerRule) *dag.DAG {
	d := testDAG(t, "br", "none", "branch", "a:branch", "b:branch", "join:a,b", "after:join")
	d.Task("branch").Operator = BranchOperator
	d.Task("join").TriggerRule = rule
	return d
}

// TestBranchSkipsPropagateByTriggerRule is the table of a branch's result
// × the join's trigger rule → the join's state, as Airflow's
// skip_all_except and TriggerRuleDep give it.
func TestBranchSkipsPropagateByTriggerRule(t *testing.T) {
	const (
		S = store.StateSuccess
		K = store.StateSkipped
	)
	rules := []dag.TriggerRule{dag.AllSuccess, dag.NoneFailedMinOneSuccess, dag.NoneFailed, dag.AllDone,
		dag.AllDoneMinOneSuccess, dag.OneSuccess, dag.OneDone, dag.OneFailed, dag.AllFailed, dag.NoneSkipped,
		dag.AllSkipped, dag.Always}
	cases := []struct {
		name   string
		choice *Choice
		join   map[dag.TriggerRule]store.TaskState
		a, b   store.TaskState
	}{
		{"follow a", follow("a"), map[dag.TriggerRule]store.TaskState{
			dag.AllSuccess: K, dag.NoneFailedMinOneSuccess: S, dag.NoneFailed: S, dag.AllDone: S,
			dag.AllDoneMinOneSuccess: S, dag.OneSuccess: S, dag.OneDone: S, dag.OneFailed: K, dag.AllFailed: K,
			dag.NoneSkipped: K, dag.AllSkipped: K, dag.Always: S,
		}, S, K},
		{"follow both", follow("a", "b"), map[dag.TriggerRule]store.TaskState{
			dag.AllSuccess: S, dag.NoneFailedMinOneSuccess: S, dag.NoneFailed: S, dag.AllDone: S,
			dag.AllDoneMinOneSuccess: S, dag.OneSuccess: S, dag.OneDone: S, dag.OneFailed: K, dag.AllFailed: K,
			dag.NoneSkipped: S, dag.AllSkipped: K, dag.Always: S,
		}, S, S},
		{"follow none", follow(), map[dag.TriggerRule]store.TaskState{
			dag.AllSuccess: K, dag.NoneFailedMinOneSuccess: K, dag.NoneFailed: S, dag.AllDone: S,
			dag.AllDoneMinOneSuccess: K, dag.OneSuccess: K, dag.OneDone: K, dag.OneFailed: K, dag.AllFailed: K,
			dag.NoneSkipped: K, dag.AllSkipped: S, dag.Always: S,
		}, K, K},
		{"no stored result (marked success)", &Choice{All: true}, map[dag.TriggerRule]store.TaskState{
			dag.AllSuccess: S, dag.NoneFailedMinOneSuccess: S, dag.NoneFailed: S, dag.AllDone: S,
			dag.AllDoneMinOneSuccess: S, dag.OneSuccess: S, dag.OneDone: S, dag.OneFailed: K, dag.AllFailed: K,
			dag.NoneSkipped: S, dag.AllSkipped: K, dag.Always: S,
		}, S, S},
	}
	for _, tc := range cases {
		for _, rule := range rules {
			t.Run(fmt.Sprintf("%s/%s", tc.name, rule), func(t *testing.T) {
				d := branchDAG(t, rule)
				w := newWorld(d)
				w.addRun(d, "r", store.RunRunning, nil)
				got := settle(t, w, tc.choice)
				if got["a"] != tc.a || got["b"] != tc.b || got["join"] != tc.join[rule] {
					t.Fatalf("a=%s b=%s join=%s, want a=%s b=%s join=%s", got["a"], got["b"], got["join"],
						tc.a, tc.b, tc.join[rule])
				}
				// after is all_success: it runs exactly when join did.
				if wantAfter := map[store.TaskState]store.TaskState{S: S, K: K}[got["join"]]; got["after"] != wantAfter {
					t.Fatalf("after=%s with join %s", got["after"], got["join"])
				}
				if got["branch"] != S {
					t.Fatalf("branch=%s", got["branch"])
				}
			})
		}
	}
}

// TestBranchFollowsTheJoinOfAnEmptyBranch: branch → task1 → join and
// branch → join; following task1 also follows join, which is downstream
// of it (Airflow's skip_all_except special case), though join is a direct
// downstream task the branch did not name.
func TestBranchFollowsTheJoinOfAnEmptyBranch(t *testing.T) {
	d := testDAG(t, "empty_branch", "none", "branch", "task1:branch", "other:branch", "join:branch,task1")
	d.Task("branch").Operator = BranchOperator
	d.Task("join").TriggerRule = dag.NoneFailedMinOneSuccess
	w := newWorld(d)
	w.addRun(d, "r", store.RunRunning, nil)
	got := settle(t, w, follow("task1"))
	want := map[string]store.TaskState{"branch": store.StateSuccess, "task1": store.StateSuccess,
		"other": store.StateSkipped, "join": store.StateSuccess}
	if !maps.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	// Following only other skips join: a direct downstream task that no
	// followed task leads to, whatever its trigger rule.
	w = newWorld(d)
	w.addRun(d, "r", store.RunRunning, nil)
	if got := settle(t, w, follow("other")); got["join"] != store.StateSkipped || got["task1"] != store.StateSkipped {
		t.Fatalf("following other: %v, want task1 and join skipped", got)
	}
}

// TestBranchChoiceNotKnownHoldsDownstream: a successful branch whose
// result the scheduler has not read (Snapshot.Choices lacks it) neither
// runs nor skips its downstream tasks: they wait.
func TestBranchChoiceNotKnownHoldsDownstream(t *testing.T) {
	d := branchDAG(t, dag.AllDone)
	d.Task("a").TriggerRule = dag.Always // would run at once, but not before the branch decided
	w := newWorld(d)
	w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"branch": store.StateSuccess})
	p := Decide(w.snap)
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "a" || u.Key.TaskID == "b" {
			t.Fatalf("%s decided (%s) before the branch's choice was read", u.Key.TaskID, u.To)
		}
	}
	w.snap.Choices = map[store.TaskKey]Choice{w.ti("r", "branch").TaskKey: {Follow: []string{"b"}}}
	p = Decide(w.snap)
	if got := updatesTo(p, store.StateSkipped); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("skipped %v, want [a]", got)
	}
	if got := updatesTo(p, store.StateQueued); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("queued %v, want [b]", got)
	}
}

// TestBranchSkipsAScheduledTask: a direct downstream task already waiting
// for a slot (scheduled) is skipped too, from that state.
func TestBranchSkipsAScheduledTask(t *testing.T) {
	d := branchDAG(t, dag.AllSuccess)
	w := newWorld(d)
	w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"branch": store.StateSuccess, "a": store.StateScheduled})
	w.snap.Choices = map[store.TaskKey]Choice{w.ti("r", "branch").TaskKey: {Follow: []string{"b"}}}
	p := Decide(w.snap)
	for _, u := range p.TaskUpdates {
		if u.Key.TaskID == "a" && (u.To != store.StateSkipped || !slices.Equal(u.From, []store.TaskState{store.StateScheduled})) {
			t.Fatalf("a: %v → %s, want scheduled → skipped", u.From, u.To)
		}
	}
	if got := updatesTo(p, store.StateSkipped); !slices.Contains(got, "a") {
		t.Fatalf("skipped %v, want a among them", got)
	}
}

// TestBranchSkipsTasksAlreadyUnderWay: as Airflow's SkipMixin (an update
// whatever the state), a task the branch did not follow is skipped from
// queued, up_for_retry, up_for_reschedule or running (a live worker's: it
// stops the try at its next heartbeat), each a conditional write from the
// state it was seen in; a running try of a gone worker is left to the
// zombie rules, and a finished task keeps its state.
func TestBranchSkipsTasksAlreadyUnderWay(t *testing.T) {
	tests := []struct {
		state  store.TaskState
		worker string
		want   []store.TaskState // the update's From; nil: no skip
	}{
		{state: store.StateQueued, worker: "me", want: []store.TaskState{store.StateQueued}},
		{state: store.StateQueued, worker: "gone", want: []store.TaskState{store.StateQueued}},
		{state: store.StateUpForRetry, want: []store.TaskState{store.StateUpForRetry}},
		{state: store.StateUpForReschedule, want: []store.TaskState{store.StateUpForReschedule}},
		{state: store.StateRunning, worker: "me", want: []store.TaskState{store.StateRunning}},
		{state: store.StateRunning, worker: "other", want: []store.TaskState{store.StateRunning}},
		{state: store.StateRunning, worker: "gone"},
		{state: store.StateSuccess},
		{state: store.StateFailed},
	}
	for _, tt := range tests {
		t.Run(string(tt.state)+"/"+tt.worker, func(t *testing.T) {
			d := branchDAG(t, dag.AllSuccess)
			w := newWorld(d)
			w.snap.LiveWorkers["other"] = true
			w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"branch": store.StateSuccess, "a": tt.state})
			a := w.ti("r", "a")
			a.WorkerID, a.TryNumber, a.HeartbeatAt = tt.worker, 1, w.snap.Now
			a.NextRetryAt = w.snap.Now.Add(time.Hour) // a retry not due yet is skipped all the same
			if tt.worker == "me" {
				w.snap.Held = func(store.TaskKey) bool { return true }
			}
			w.snap.Choices = map[store.TaskKey]Choice{w.ti("r", "branch").TaskKey: {Follow: []string{"b"}}}
			p := Decide(w.snap)
			var got *store.TaskUpdate
			for i, u := range p.TaskUpdates {
				if u.Key.TaskID == "a" {
					got = &p.TaskUpdates[i]
				}
			}
			switch {
			case tt.want == nil && got != nil && got.To == store.StateSkipped:
				t.Fatalf("a (%s on %q) skipped: %+v", tt.state, tt.worker, got)
			case tt.want == nil:
			case got == nil || got.To != store.StateSkipped || !slices.Equal(got.From, tt.want):
				t.Fatalf("a (%s on %q): update %+v, want %v → skipped", tt.state, tt.worker, got, tt.want)
			case tt.state == store.StateRunning && (got.FromWorker == nil || *got.FromWorker != tt.worker):
				t.Fatalf("a running try's skip does not check its worker: %+v", got)
			}
		})
	}
}

// TestShortCircuit: sc → x → y, z → y. A falsy result skips x; with
// ignore_downstream_trigger_rules (the default) y too, whatever its rule;
// without, y's rule decides.
func TestShortCircuit(t *testing.T) {
	const (
		S = store.StateSuccess
		K = store.StateSkipped
	)
	cases := []struct {
		truthy bool
		ignore any // nil: the field left out
		rule   dag.TriggerRule
		x, y   store.TaskState
	}{
		{false, nil, dag.AllDone, K, K},
		{false, true, dag.NoneFailed, K, K},
		{false, true, dag.OneSuccess, K, K},
		{false, false, dag.AllDone, K, S},
		{false, false, dag.OneSuccess, K, S},
		{false, false, dag.NoneFailedMinOneSuccess, K, S},
		{false, false, dag.AllSuccess, K, K},
		{true, nil, dag.AllSuccess, S, S},
		{true, false, dag.AllSuccess, S, S},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("truthy=%v/ignore=%v/%s", tc.truthy, tc.ignore, tc.rule), func(t *testing.T) {
			d := testDAG(t, "sc", "none", "sc", "x:sc", "z", "y:x,z")
			d.Task("sc").Operator = ShortCircuitOperator
			if tc.ignore != nil {
				d.Task("sc").Args = map[string]any{IgnoreDownstreamTriggerRules: tc.ignore}
			}
			d.Task("y").TriggerRule = tc.rule
			w := newWorld(d)
			w.addRun(d, "r", store.RunRunning, nil)
			got := settle(t, w, &Choice{All: tc.truthy})
			if got["x"] != tc.x || got["y"] != tc.y || got["z"] != S {
				t.Fatalf("x=%s y=%s z=%s, want x=%s y=%s z=success", got["x"], got["y"], got["z"], tc.x, tc.y)
			}
			if w.snap.Runs[0].State != store.RunSuccess {
				t.Fatalf("run %s, want success", w.snap.Runs[0].State)
			}
		})
	}
}

func TestDecodeChoice(t *testing.T) {
	cases := []struct {
		op, value string
		want      Choice
		err       string
	}{
		{BranchOperator, `"a"`, Choice{Follow: []string{"a"}}, ""},
		{BranchOperator, `["a","b","a"]`, Choice{Follow: []string{"a", "b"}}, ""},
		{BranchOperator, `[]`, Choice{Follow: []string{}}, ""},
		{BranchOperator, `null`, Choice{}, ""},
		{BranchOperator, `[1]`, Choice{}, "not a task id"},
		{BranchOperator, `{"a":1}`, Choice{}, "not an object"},
		{BranchOperator, `a`, Choice{}, "not JSON"},
		{BranchOperator, `"a" "b"`, Choice{}, "text follows"},
		{ShortCircuitOperator, `true`, Choice{All: true}, ""},
		{ShortCircuitOperator, `false`, Choice{}, ""},
		{ShortCircuitOperator, `0`, Choice{}, ""},
		{ShortCircuitOperator, `0.0`, Choice{}, ""},
		{ShortCircuitOperator, `1e400`, Choice{All: true}, ""},
		{ShortCircuitOperator, `""`, Choice{}, ""},
		{ShortCircuitOperator, `"no"`, Choice{All: true}, ""}, // a non-empty string, as in Python
		{ShortCircuitOperator, `[]`, Choice{}, ""},
		{ShortCircuitOperator, `[0]`, Choice{All: true}, ""},
		{ShortCircuitOperator, `{}`, Choice{}, ""},
		{ShortCircuitOperator, `null`, Choice{}, ""},
		{ShortCircuitOperator, ``, Choice{}, "not JSON"},
		{"bash", `"a"`, Choice{}, "does not branch"},
	}
	for _, tc := range cases {
		got, err := DecodeChoice(tc.op, tc.value)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: err %v, want one containing %q", tc.op, tc.value, err, tc.err)
			}
			continue
		}
		if err != nil || got.All != tc.want.All || !slices.Equal(got.Follow, tc.want.Follow) {
			t.Errorf("%s %q: %+v, %v; want %+v", tc.op, tc.value, got, err, tc.want)
		}
	}
}

// TestDecodeChoiceErrorsDoNotQuoteTheValue: a result that does not decode
// is reported in the scheduler's log; an XCom holds whatever a task
// returned (a token, a row of data), so the error names its kind and size,
// never its text.
func TestDecodeChoiceErrorsDoNotQuoteTheValue(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	for _, tc := range []struct{ op, value string }{
		{BranchOperator, secret},
		{BranchOperator, `[1, "` + secret + `"]`},
		{BranchOperator, `{"token": "` + secret + `"}`},
		{BranchOperator, `"a" "` + secret + `"`},
		{ShortCircuitOperator, secret},
	} {
		_, err := DecodeChoice(tc.op, tc.value)
		if err == nil {
			t.Errorf("%s %q: no error", tc.op, tc.value)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the value: %v", tc.op, err)
		}
	}
}

// TestBranchSkipOfATryUnderWayDoesNotCascade: a branch's skip of a task
// whose try is under way (queued or running on a worker, waiting for a
// retry another scheduler may queue) is a write that can lose to that
// try's own (its claim, its success); the tasks after it must not be
// decided on it in the same plan, where their writes would stand though
// it lost (join skipped after a succeeded). They wait for the skip to be
// read back. A skip from none or scheduled, which no try races, still
// cascades at once.
func TestBranchSkipOfATryUnderWayDoesNotCascade(t *testing.T) {
	tests := []struct {
		state   store.TaskState
		cascade bool
	}{
		{store.StateNone, true},
		{store.StateScheduled, true},
		{store.StateQueued, false},
		{store.StateUpForRetry, false},
		{store.StateUpForReschedule, false},
		{store.StateRunning, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			d := branchDAG(t, dag.AllSuccess)
			w := newWorld(d)
			w.snap.LiveWorkers["other"] = true
			w.addRun(d, "r", store.RunRunning, map[string]store.TaskState{"branch": store.StateSuccess, "a": tt.state, "b": store.StateSuccess})
			a := w.ti("r", "a")
			a.WorkerID, a.TryNumber, a.HeartbeatAt, a.NextRetryAt = "other", 1, w.snap.Now, w.snap.Now.Add(time.Hour)
			w.snap.Choices = map[store.TaskKey]Choice{w.ti("r", "branch").TaskKey: {Follow: []string{"b"}}}
			p := Decide(w.snap)
			var skipA, joinWrite bool
			for _, u := range p.TaskUpdates {
				skipA = skipA || (u.Key.TaskID == "a" && u.To == store.StateSkipped)
				joinWrite = joinWrite || u.Key.TaskID == "join"
			}
			if !skipA {
				t.Fatalf("a (%s) not skipped: %+v", tt.state, p.TaskUpdates)
			}
			if joinWrite != tt.cascade {
				t.Errorf("a %s, skipped in this plan: join decided in the same plan %v, want %v (%+v)", tt.state, joinWrite, tt.cascade, p.TaskUpdates)
			}
		})
	}
}
