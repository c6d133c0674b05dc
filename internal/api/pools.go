package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/dag"
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
	return s.writePool(w, r, r.PathValue("pool_name"))
}

// poolBody is Airflow's Pool as a POST or PATCH body.
type poolBody struct {
	Name        *string `json:"name"`
	Slots       *int    `json:"slots"`
	Description *string `json:"description"`
}

// maxPoolName is Airflow's pool column width.
const maxPoolName = 256

// maxSlots is the most slots a pool may have: PostgreSQL keeps them in an
// integer column.
const maxSlots = math.MaxInt32

// checkSlots checks a pool size: Airflow's rule is slots ≥ 0 (a pool of 0
// slots holds its tasks back), and the scheduler compares it with the
// slots tasks take.
func checkSlots(slots *int) error {
	switch {
	case slots == nil:
		return badRequest("slots", "slots is required")
	case *slots < 0 || *slots > maxSlots:
		return badRequest("slots", "slots must be an integer in 0..%d, got %d", maxSlots, *slots)
	}
	return nil
}

// postPool creates a pool; an existing name is 409.
func (s *server) postPool(w http.ResponseWriter, r *http.Request) error {
	var body poolBody
	if _, err := decodeFields(r, &body); err != nil {
		return err
	}
	if err := checkName("name", body.Name, maxPoolName); err != nil {
		return err
	}
	auth.NoteFrom(r.Context()).Set("pool_name", *body.Name)
	if err := checkSlots(body.Slots); err != nil {
		return err
	}
	p := store.Pool{Name: *body.Name, Slots: *body.Slots, Description: orEmpty(body.Description)}
	if err := storableText("description", p.Description); err != nil {
		return err
	}
	err := s.o.Store.CreatePool(r.Context(), p)
	if errors.Is(err, store.ErrExists) {
		return conflict("pool %q already exists", p.Name)
	}
	if err != nil {
		return fmt.Errorf("create pool %s: %w", p.Name, err)
	}
	s.kick()
	return s.writePool(w, r, p.Name)
}

// patchPool changes a pool's slots or description. A pool cannot be
// renamed (tasks name it), and default_pool keeps its description, as in
// Airflow, where only its slots can change.
func (s *server) patchPool(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("pool_name")
	var body poolBody
	given, err := decodeFields(r, &body)
	if err != nil {
		return err
	}
	if err := sameID("name", body.Name, name); err != nil {
		return err
	}
	apply, err := patchFields(r, given, []string{"slots", "description"})
	if err != nil {
		return err
	}
	if name == dag.DefaultPool && apply["description"] {
		return badRequest("description", "only the slots of %s can be changed", dag.DefaultPool)
	}
	p, err := s.storedPool(r, name)
	if err != nil {
		return err
	}
	if apply["slots"] {
		if err := checkSlots(body.Slots); err != nil {
			return err
		}
		p.Slots = *body.Slots
	}
	if apply["description"] {
		p.Description = orEmpty(body.Description)
		if err := storableText("description", p.Description); err != nil {
			return err
		}
	}
	if err := s.o.Store.UpdatePool(r.Context(), p); isNotFound(err) {
		return notFound("Pool", "pool %q not found", name)
	} else if err != nil {
		return fmt.Errorf("update pool %s: %w", name, err)
	}
	s.kick()
	return s.writePool(w, r, name)
}

// deletePool deletes a pool, except default_pool. Tasks that name a
// deleted pool wait, reported by the scheduler, until it exists again.
func (s *server) deletePool(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("pool_name")
	if name == dag.DefaultPool {
		return badRequest("pool_name", "%s cannot be deleted", dag.DefaultPool)
	}
	if err := s.o.Store.DeletePool(r.Context(), name); isNotFound(err) {
		return notFound("Pool", "pool %q not found", name)
	} else if err != nil {
		return fmt.Errorf("delete pool %s: %w", name, err)
	}
	s.kick()
	return deleted(w)
}

// storedPool returns the pool named name, or 404.
func (s *server) storedPool(r *http.Request, name string) (store.Pool, error) {
	pools, err := s.o.Store.ListPools(r.Context())
	if err != nil {
		return store.Pool{}, fmt.Errorf("list pools: %w", err)
	}
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
	}
	return store.Pool{}, notFound("Pool", "pool %q not found", name)
}

// writePool answers the pool named name with its usage.
func (s *server) writePool(w http.ResponseWriter, r *http.Request, name string) error {
	pools, err := s.pools(r)
	if err != nil {
		return err
	}
	for _, p := range pools {
		if p.Name == name {
			return writeJSON(w, http.StatusOK, p)
		}
	}
	return notFound("Pool", "pool %q not found", name)
}
