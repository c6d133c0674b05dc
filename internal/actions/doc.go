// Package actions holds what a user can do to DAGs, runs and task instances
// — trigger a run, backfill, clear, mark, pause — as plain functions over a
// store.Store and a *dag.DAG, so the command line and the REST API share one
// implementation and cannot drift apart.
//
// Each function takes `now` (tests control time), writes through the
// store's conditional updates and returns a typed result. Errors a caller
// must tell apart are classified, not reworded:
//
//	errors.Is(err, ErrInvalid)        the request is wrong (an *InvalidError names the field)
//	errors.Is(err, store.ErrNotFound) the run or task instance does not exist
//	errors.Is(err, store.ErrExists)   a run with that id or logical date exists
//	errors.Is(err, ErrConflict)       the state changed under the request; retry
//
// The messages are the ones the CLI has always printed.
package actions
