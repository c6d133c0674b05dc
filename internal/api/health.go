package api

import (
	"context"
	"net/http"
	"time"
)

// health answers as Airflow's /health: the metadatabase's status and the
// scheduler's. A standalone process reports its own scheduler; an API
// server judges the freshest executor heartbeat in the store. Only an
// unreachable database makes it 503.
func (s *server) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	db, code := "healthy", http.StatusOK
	if _, err := s.o.Store.ListPools(ctx); err != nil {
		db, code = "unhealthy", http.StatusServiceUnavailable
	}
	sched := s.schedulerHealth(ctx)
	if s.o.SchedulerInProcess {
		sched["status"], sched["started_at"] = "healthy", s.o.Started.UTC().Format(time.RFC3339)
	}
	return writeJSON(w, code, map[string]any{
		"metadatabase": map[string]string{"status": db},
		"scheduler":    sched,
	})
}

// schedulerHealth is healthy when some executor heartbeat is younger than
// the zombie threshold: past it, the scheduler would call its tries dead.
// It also says how old that heartbeat is (heartbeat_age_seconds), so a
// probe or a person sees a scheduler falling behind before it is declared
// unhealthy.
func (s *server) schedulerHealth(ctx context.Context) map[string]any {
	out := map[string]any{"status": "unhealthy", "latest_scheduler_heartbeat": nil, "heartbeat_age_seconds": nil}
	workers, err := s.o.Store.ListWorkers(ctx)
	if err != nil {
		return out
	}
	var latest time.Time
	for _, wk := range workers {
		if wk.HeartbeatAt.After(latest) {
			latest = wk.HeartbeatAt
		}
	}
	if latest.IsZero() {
		return out
	}
	out["latest_scheduler_heartbeat"] = ts(latest)
	out["heartbeat_age_seconds"] = max(s.now().Sub(latest), 0).Seconds()
	limit := s.o.Config.ZombieAfter
	if limit <= 0 {
		limit = 30 * time.Second
	}
	if s.now().Sub(latest) < limit {
		out["status"] = "healthy"
	}
	return out
}
