// Package store defines what Sirocco persists and the contract every backend
// honours. The scheduler, executors, CLI and API share state only through a
// Store; package sqlstore implements it over SQLite and PostgreSQL, and
// package storetest is the conformance suite both pass.
//
// # Task instance states
//
// A task instance moves through Airflow's state machine. Every arrow is one
// conditional write (Store.UpdateTask with From set), so two processes racing
// the same transition cannot both win:
//
//	               +------------ up_for_retry <-----------+
//	               |   (once next_retry_at has passed)    |
//	               v                                      |
//	none ---> scheduled ---> queued ---> running ----+----+
//	 |             ^                      |          +---> success
//	 |             +-- up_for_reschedule <+          +---> failed
//	 |                                               +---> skipped
//	 +---> upstream_failed | skipped   (decided without running)
//
//	ClearTasks: any state but queued, running or restarting ---> none
//	            (and the task's XComs are deleted)
//
// success, failed, upstream_failed, skipped and removed are final
// (TaskState.Finished): only ClearTasks takes such a task back to none. A try
// starts on queued -> running, which increments try_number (TaskUpdate.IncTry),
// except a reschedule-mode sensor's next poke: running -> up_for_reschedule
// keeps the sensor's progress (first_poke_at, pokes > 0) and its try, which
// the next poke goes on with; every other end of the try clears the progress.
//
// # DAG run states
//
//	queued ---> running ---+---> success ---+
//	  ^                    +---> failed  ---+
//	  |                                     |
//	  +------- ClearTasks on a finished run +
//
// # Notifications
//
// A write that another process must act on (a run created, a run's state,
// a mark, a clear, a pause, a pool) notifies every other handle on the
// database (Store.Notify); a scheduler or `dags trigger --wait` watches
// (Store.Watch) and looks at once instead of at its next poll. A handle
// never hears its own notifications, so a scheduler's writes never wake it.
//
// # Errors
//
// Lookups of missing rows wrap ErrNotFound, inserts that collide wrap
// ErrExists; callers test them with errors.Is. A conditional write that
// finds the row in another state is not an error: it returns false.
package store
