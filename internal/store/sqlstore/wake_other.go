//go:build !linux

package sqlstore

import "context"

// watchFiles has no kernel watch to use outside Linux: Watch returns a nil
// channel and the scheduler polls.
func (w *wakeState) watchFiles(context.Context, chan<- struct{}) (bool, error) {
	return false, nil
}
