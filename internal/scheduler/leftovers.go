package scheduler

import (
	"sync"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// leftoverHolds counts, per try, the holds recovery has on it.
type leftoverHolds struct {
	mu    sync.Mutex
	holds map[store.TaskKey]int
}

func (h *leftoverHolds) has(k store.TaskKey) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holds[k] > 0
}

// HoldLeftovers tells the loop that recovery is killing what is left of
// these tries of a dead worker: the loop runs none of them again until
// release is called, so a task never runs beside the processes of its
// previous try, while the rest of the scheduling goes on. release (once is
// enough; more calls do nothing) has the loop read the workers again and
// look at once.
func (l *Loop) HoldLeftovers(keys []store.TaskKey) (release func()) {
	h := &l.held
	h.mu.Lock()
	if h.holds == nil {
		h.holds = map[store.TaskKey]int{}
	}
	for _, k := range keys {
		h.holds[k]++
	}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			for _, k := range keys {
				if h.holds[k]--; h.holds[k] <= 0 {
					delete(h.holds, k)
				}
			}
			h.mu.Unlock()
			l.metaStale.Store(true)
			l.Wake()
		})
	}
}
