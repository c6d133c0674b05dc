// Package storetest is the conformance suite every store.Store backend must
// pass. It exercises the contract in package store, not an implementation:
// conditional transitions that exactly one racer wins, the ErrExists and
// ErrNotFound errors, microsecond UTC time round trips with the zero time as
// NULL, the scheduler's active snapshot and its ordering, clearing, and the
// small tables. A backend's tests call Run with a function that opens an
// empty store:
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
package storetest
