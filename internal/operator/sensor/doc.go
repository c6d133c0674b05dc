// Package sensor holds the sensors: operators that wait for a condition
// (a file, an HTTP answer, another DAG's task, a time) by poking it until
// it holds, as Airflow's BaseSensorOperator does.
//
// Every sensor shares the same fields and loop (Run):
//
//	poke ──► condition met ─────────────────────────────► success
//	  │
//	  └─► not yet ──► timeout passed since the first poke? ─► failed (no retry)
//	                     │                                  or skipped (soft_fail)
//	                     └─► mode poke:       wait poke_interval in the try, poke again
//	                         mode reschedule: end the try as up_for_reschedule until
//	                                          now + poke_interval (the slot is freed;
//	                                          the scheduler queues the next poke when due)
//
// In reschedule mode the first poke's start and the poke count are stored
// on the task instance (operator.Reschedule → first_poke_at, pokes), so the
// timeout counts from the first poke of the try across reschedules and
// restarts of Sirocco, as Airflow's task_reschedule table does. A poke
// that fails (an error, not "not yet") fails the try as any task's, and
// retries apply.
package sensor
