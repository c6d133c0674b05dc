package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// Shape of the DAG list benchmark (the UI review's finding 4).
const (
	listDAGs    = 1000
	listRunsPer = 2
)

// dagListSite is the UI over a SQLite database of listDAGs daily DAGs with
// listRunsPer scheduled runs each.
func dagListSite(b *testing.B) *httptest.Server {
	b.Helper()
	home := workDir(b)
	dagsDir := filepath.Join(home, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range listDAGs {
		y := fmt.Sprintf("dag_id: d%04d\nschedule: \"@daily\"\nstart_date: 2026-01-01\ntasks:\n  - {id: t, operator: empty}\n", i)
		if err := os.WriteFile(filepath.Join(dagsDir, fmt.Sprintf("d%04d.yaml", i)), []byte(y), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	bag, err := dag.LoadDir(dagsDir, dag.LoadOptions{Operators: all.Registry().Specs()})
	if err != nil || len(bag.DAGs) != listDAGs {
		b.Fatalf("load: %v %v", err, bag.Errors)
	}
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(home, "sirocco.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range listDAGs {
		for r := range listRunsPer {
			at := day.Add(time.Duration(r) * 24 * time.Hour)
			run := store.DagRun{DagID: fmt.Sprintf("d%04d", i), RunID: fmt.Sprintf("scheduled__%d", r), RunType: store.RunScheduled,
				State: store.RunSuccess, LogicalDate: at, DataIntervalStart: at, DataIntervalEnd: at.Add(24 * time.Hour), QueuedAt: at}
			if err := st.CreateRun(context.Background(), run, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = home, dagsDir
	srv := httptest.NewServer(ui.New(ui.Options{Store: st, Config: cfg,
		DAGs: func() (map[string]*dag.DAG, map[string]error) { return bag.DAGs, bag.Errors }}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkUIDAGs measures /ui/api/dags, the DAG list's recent and next
// runs, over 1,000 DAGs x 2 runs on SQLite: what each open DAG list tab
// asks again on every change.
func BenchmarkUIDAGs(b *testing.B) {
	srv := dagListSite(b)
	cpu0 := processCPU(b)
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/ui/api/dags")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("dags: %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/list")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list")
}
