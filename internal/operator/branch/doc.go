// Package branch holds Airflow's branching operators, run as bash commands
// whose last stdout line is the decision:
//
//   - branch (BranchPythonOperator, @task.branch): the line names the
//     direct downstream tasks to follow — a task id, a JSON list of ids, or
//     empty / null / [] for none. The others are skipped.
//   - short_circuit (ShortCircuitOperator): the line is a condition (JSON
//     or a bare true/false/yes/no/1/0/none), read with Python's truth
//     value; a false one skips the tasks downstream.
//
// The operator only decides and pushes its decision as the return_value
// XCom; the scheduler reads it back when it decides the downstream tasks
// (scheduler.DecodeChoice), so the skips come from what is stored, never
// from a process that may have died after the try's success:
//
//	branch try ──► return_value XCom ──► success ──► scheduler reads the XCom ──► skips (conditional writes)
package branch
