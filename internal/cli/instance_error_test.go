package cli

import (
	"errors"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestInstanceErrorHintsAtTheMapIndex: a task instance that is not found
// says how a mapped task's instances are named (trial10b #4: a forgotten
// --map-index only said "not found"); other errors get no hint.
func TestInstanceErrorHintsAtTheMapIndex(t *testing.T) {
	k := store.TaskKey{DagID: "d", RunID: "r", TaskID: "t"}
	cases := []struct {
		key  store.TaskKey
		err  error
		want string
	}{
		{k, store.ErrNotFound, "task instance d/r/t: not found (an expanded mapped task's instances are named with --map-index N)"},
		{k.WithMapIndex(7), store.ErrNotFound, "task instance d/r/t [7]: not found (is the map index in range?)"},
		{k, errors.New("disk on fire"), "task instance d/r/t: disk on fire"},
	}
	for _, c := range cases {
		err := instanceError(c.key, c.err)
		if err.Error() != c.want || !errors.Is(err, c.err) {
			t.Errorf("instanceError(%v, %v) = %q, want %q wrapping the error", c.key, c.err, err, c.want)
		}
	}
}
