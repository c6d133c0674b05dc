package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// Grid shape of issue 12 (Airflow's PR #51805 case): 6,000 tasks x 10 runs.
const (
	gridTasks = 6000
	gridRuns  = 10
)

// gridSite is the UI over a SQLite database holding gridRuns runs of a
// DAG of gridTasks tasks in mixed states.
func gridSite(b *testing.B) *httptest.Server {
	b.Helper()
	home := workDir(b)
	dagsDir := filepath.Join(home, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		b.Fatal(err)
	}
	var y strings.Builder
	y.WriteString("dag_id: big\nschedule: none\ntasks:\n")
	for i := range gridTasks {
		dep := ""
		if i%100 != 0 {
			dep = fmt.Sprintf(", depends_on: [t%04d]", i-1)
		}
		fmt.Fprintf(&y, "  - {id: t%04d, operator: empty%s}\n", i, dep)
	}
	if err := os.WriteFile(filepath.Join(dagsDir, "big.yaml"), []byte(y.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	bag, err := dag.LoadDir(dagsDir, dag.LoadOptions{Operators: all.Registry().Specs()})
	if err != nil || bag.DAGs["big"] == nil {
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
	states := []store.TaskState{store.StateSuccess, store.StateSuccess, store.StateSuccess, store.StateFailed,
		store.StateSkipped, store.StateUpstreamFailed, store.StateNone}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := range gridRuns {
		at := day.Add(time.Duration(r) * 24 * time.Hour)
		run := store.DagRun{DagID: "big", RunID: fmt.Sprintf("scheduled__%d", r), RunType: store.RunScheduled, State: store.RunSuccess,
			LogicalDate: at, DataIntervalStart: at, DataIntervalEnd: at.Add(24 * time.Hour), QueuedAt: at, StartDate: at, EndDate: at.Add(time.Hour)}
		tis := make([]store.TaskInstance, gridTasks)
		for i := range tis {
			tis[i] = store.TaskInstance{TaskKey: store.TaskKey{TaskID: fmt.Sprintf("t%04d", i)}, State: states[(i+r)%len(states)],
				TryNumber: 1, Pool: "default_pool", PoolSlots: 1, Queue: "default", StartDate: at, EndDate: at.Add(time.Second)}
		}
		if err := st.CreateRun(context.Background(), run, tis); err != nil {
			b.Fatal(err)
		}
	}
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = home, dagsDir
	h := ui.New(ui.Options{Store: st, Config: cfg,
		DAGs: func() (map[string]*dag.DAG, map[string]error) { return bag.DAGs, bag.Errors }})
	// The page's own REST calls (the DAG summary) are not part of the grid.
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "{}", http.StatusNotFound) })
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkUIGrid measures the grid of a 6,000-task DAG x 10 runs on
// SQLite: "server" is the time to answer /ui/api/grid (read, encode, send:
// the goal is under 300 ms), "paint" the time from navigating to the grid
// page to its first painted frame with the cells in headless Chromium
// (goal: under 1 s). Both run on the same loopback; the server's CPU time
// per answer (client and server are one process) is reported as well.
func BenchmarkUIGrid(b *testing.B) {
	srv := gridSite(b)
	url := srv.URL + "/ui/api/grid?dag_id=big&limit=10"
	b.Run("server", func(b *testing.B) {
		var size int
		cpu0 := processCPU(b)
		for b.Loop() {
			resp, err := http.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("grid: %d", resp.StatusCode)
			}
			size = int(n)
		}
		// The CPU time is what the answer costs on an idle machine; the
		// wall time also holds the waits of a loaded one.
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/grid")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/grid")
		b.ReportMetric(float64(size)/1024, "KiB")
	})
	b.Run("paint", func(b *testing.B) {
		ctx := testenv.Chromium(b)
		var total time.Duration
		for b.Loop() {
			var ms float64
			err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/dags/big"),
				chromedp.WaitReady("#grid", chromedp.ByID),
				chromedp.Poll(`document.querySelector('#grid[data-ready="true"] a[data-state]') !== null`, nil,
					chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)),
				chromedp.Evaluate(`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(performance.now()))))`, &ms,
					func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
			if err != nil {
				b.Fatal(err)
			}
			total += time.Duration(ms * float64(time.Millisecond))
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/painted")
	})
}
