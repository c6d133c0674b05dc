package engine

import (
	"context"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestRunFromAnotherProcessStartsAtOnce: a run created through another
// handle on the database (as `sirocco dags trigger` or an API server in
// another process creates it), without any Kick, is run although the
// engine's poll interval is an hour: only the store's notification can
// have woken the scheduler.
func TestRunFromAnotherProcessStartsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return testenv.Postgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startOn(t, tc.url(t), map[string]string{"two": `
dag_id: two
tasks:
  - {id: a, operator: bash, command: "true"}
  - {id: b, operator: empty, depends_on: [a]}
`}, func(c *config.Config) { c.PollInterval = time.Hour })
			// A first run, kicked in this process, shows the loop is up
			// and past its first look at the database.
			if run := h.waitRun("two", h.trigger("two", nil)); run.State != store.RunSuccess {
				t.Fatalf("first run: %s", run.State)
			}

			other, err := sqlstore.Open(context.Background(), h.cfg.DatabaseURL)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			run, err := actions.CreateRun(context.Background(), other, h.eng.Bag.DAGs()["two"],
				actions.RunRequest{RunID: "from_elsewhere", LogicalDate: "2026-03-01"}, time.Now().UTC())
			if err != nil {
				t.Fatal(err)
			}
			if got := h.waitRunWithin("two", run.RunID, 20*time.Second); got.State != store.RunSuccess {
				t.Fatalf("run from another handle: %s", got.State)
			}
		})
	}
}
