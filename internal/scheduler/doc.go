// Package scheduler decides what happens next and applies it.
//
// Decide is pure: it reads a Snapshot (active runs and their task
// instances, pools, live workers, the clock) and returns a Plan. Loop builds
// snapshots from the store, applies plans as conditional writes, and is
// woken by events (a try ended, a run was triggered) or by the earliest time
// something becomes due (a retry delay, a run timeout).
//
// Task instance states (Airflow's):
//
//	none ──deps met──► scheduled ──slot free──► queued ──claimed──► running ─┬─► success
//	  │                                            ▲                         ├─► skipped (skip exit code)
//	  ├─► upstream_failed (trigger rule)           │                         ├─► failed (no tries left, killed)
//	  └─► skipped (trigger rule)                   └── up_for_retry ◄────────┘ (tries left; after retry_delay)
//
// A successful branch or short_circuit task also skips the waiting tasks
// after it that its stored result rules out (branching.go); the result is
// read from its return_value XCom, never taken from the process that ran
// it, so a crash between its success and those skips changes nothing.
//
// A queued try whose worker died goes back to scheduled (no try spent). A
// running try whose worker died is a zombie: it is retried or failed by its
// retry policy, or, if its work outlives the worker (a cluster-mode Spark
// driver), adopted by this scheduler's executor and tracked to its end.
//
// DAG runs: queued ──(max_active_runs)──► running ──► success | failed
// (failed when a leaf task failed or was upstream_failed, or on
// dagrun_timeout).
package scheduler
