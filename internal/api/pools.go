package api

import (
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// poolJSON is Airflow's Pool with its slot usage, counted from the task
// instances of active runs.
type poolJSON struct {
	Name           string  `json:"name"`
	Slots          int     `json:"slots"`
	OccupiedSlots  int     `json:"occupied_slots"`
	RunningSlots   int     `json:"running_slots"`
	QueuedSlots    int     `json:"queued_slots"`
	ScheduledSlots int     `json:"scheduled_slots"`
	DeferredSlots  int     `json:"deferred_slots"`
	OpenSlots      int     `json:"open_slots"`
	Description    *string `json:"description"`
}

// pools returns every pool with its usage.
func (s *server) pools(r *http.Request) ([]poolJSON, error) {
	pools, err := s.o.Store.ListPools(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	tis, err := s.o.Store.ActiveTaskInstances(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list active task instances: %w", err)
	}
	used := map[string]*poolJSON{}
	out := make([]poolJSON, len(pools))
	for i, p := range pools {
		out[i] = poolJSON{Name: p.Name, Slots: p.Slots, Description: strOrNil(p.Description)}
		used[p.Name] = &out[i]
	}
	for _, ti := range tis {
		p := used[ti.Pool]
		if p == nil {
			continue
		}
		switch ti.State {
		case store.StateRunning, store.StateRestarting:
			p.RunningSlots += ti.PoolSlots
		case store.StateQueued:
			p.QueuedSlots += ti.PoolSlots
		case store.StateScheduled:
			p.ScheduledSlots += ti.PoolSlots
		}
	}
	for i := range out {
		p := &out[i]
		p.OccupiedSlots = p.RunningSlots + p.QueuedSlots
		p.OpenSlots = max(p.Slots-p.OccupiedSlots, 0)
	}
	return out, nil
}

func (s *server) listPools(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	pools, err := s.pools(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, collection("pools", paginate(pools, p), len(pools)))
}

func (s *server) getPool(w http.ResponseWriter, r *http.Request) error {
	pools, err := s.pools(r)
	if err != nil {
		return err
	}
	name := r.PathValue("pool_name")
	for _, p := range pools {
		if p.Name == name {
			return writeJSON(w, http.StatusOK, p)
		}
	}
	return notFound("Pool", "pool %q not found", name)
}
