package cli

import (
	"fmt"
	"io"

	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// waitReason is why ti has not started, when its note says so: the
// reason the scheduler writes while a depends_on_past or
// wait_for_downstream task waits for the previous run. Any other note (a
// user's) is not a reason to wait, so it is not one.
func waitReason(ti store.TaskInstance) string {
	if ti.State != store.StateNone || !scheduler.IsPastNote(ti.Note) {
		return ""
	}
	return ti.Note
}

// waitNotes says on w why the task instances a command waits for have not
// started: a line per instance when its reason appears or changes, not on
// every poll, so a wait held by the previous run is told from a hang.
type waitNotes struct {
	w    io.Writer
	seen map[store.TaskKey]string
}

func newWaitNotes(w io.Writer) *waitNotes { return &waitNotes{w: w, seen: map[store.TaskKey]string{}} }

// see looks at ti as read now; line makes the line for its new reason.
// A reason that goes (the task started) is remembered silently, so it is
// said again if it comes back.
func (n *waitNotes) see(ti store.TaskInstance, line func(reason string) string) {
	why := waitReason(ti)
	if prev, ok := n.seen[ti.TaskKey]; ok && prev == why || !ok && why == "" {
		return
	}
	n.seen[ti.TaskKey] = why
	if why != "" {
		fmt.Fprintln(n.w, line(why))
	}
}
