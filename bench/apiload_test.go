package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// Shape of issue 12's API goal: 1,000 DAGs x 10 runs, 200 requests/s of
// mixed reads, p99 under 50 ms on SQLite.
const (
	loadDAGs  = 1000
	loadRuns  = 10
	loadTasks = 5
	loadRate  = 200 // requests a second
	loadFor   = 10 * time.Second
)

// apiLoadSite is the REST API behind auth's middleware (as served), over
// a SQLite database of loadDAGs DAGs with loadRuns runs each.
func apiLoadSite(b *testing.B) (*httptest.Server, string) {
	b.Helper()
	home := workDir(b)
	dagsDir := filepath.Join(home, "dags")
	if err := os.MkdirAll(dagsDir, 0o755); err != nil {
		b.Fatal(err)
	}
	for d := range loadDAGs {
		body := fmt.Sprintf("dag_id: d%04d\nschedule: \"@daily\"\nstart_date: 2026-01-01\ncatchup: false\ntags: [team%d]\ntasks:\n", d, d%7)
		for t := range loadTasks {
			body += fmt.Sprintf("  - {id: t%d, operator: bash, command: 'echo %d'}\n", t, t)
		}
		if err := os.WriteFile(filepath.Join(dagsDir, fmt.Sprintf("d%04d.yaml", d)), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	bag, err := dag.LoadDir(dagsDir, dag.LoadOptions{Operators: all.Registry().Specs()})
	if err != nil || len(bag.DAGs) != loadDAGs {
		for f, e := range bag.Errors {
			b.Fatalf("load: %s: %v", f, e)
		}
		b.Fatalf("load: %v (%d DAGs)", err, len(bag.DAGs))
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(home, "sirocco.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range loadDAGs {
		for r := range loadRuns {
			at := day.Add(time.Duration(r) * 24 * time.Hour)
			run := store.DagRun{DagID: fmt.Sprintf("d%04d", d), RunID: fmt.Sprintf("scheduled__%d", r), RunType: store.RunScheduled,
				State: store.RunSuccess, LogicalDate: at, DataIntervalStart: at, DataIntervalEnd: at.Add(24 * time.Hour),
				QueuedAt: at, StartDate: at, EndDate: at.Add(time.Minute)}
			tis := make([]store.TaskInstance, loadTasks)
			for t := range tis {
				tis[t] = store.TaskInstance{TaskKey: store.TaskKey{TaskID: fmt.Sprintf("t%d", t)}, State: store.StateSuccess, TryNumber: 1,
					Pool: "default_pool", PoolSlots: 1, Queue: "default", StartDate: at, EndDate: at.Add(time.Second)}
			}
			if err := st.CreateRun(ctx, run, tis); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Closed and opened again, the database starts with its WAL
	// checkpointed: the set-up's 60,000 rows are not copied during the
	// measurement.
	st.Close()
	if st, err = sqlstore.Open(ctx, "sqlite://"+filepath.Join(home, "sirocco.db")); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = home, dagsDir
	const token = "load-service-token"
	keys, err := connection.NewKeyring(make([]byte, connection.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(api.Options{Store: st, Config: cfg, Keys: keys,
		DAGs: func() (map[string]*dag.DAG, map[string]error) { return bag.DAGs, bag.Errors }})
	srv := httptest.NewServer(auth.New(auth.Options{Store: st, ServiceToken: token}).Handler(h))
	b.Cleanup(srv.Close)
	return srv, token
}

// BenchmarkAPIMixedReads sends loadRate requests a second for loadFor,
// open loop (each at its time, whatever the answers before it), of what a
// UI and scripts read: DAG lists (a page of 100, and filtered by tag), one
// DAG, its runs, one run, its task instances, one task instance, health.
// It reports the latency percentiles; the goal is a p99 under 50 ms.
func BenchmarkAPIMixedReads(b *testing.B) {
	srv, token := apiLoadSite(b)
	paths := func(i int) string {
		d, r, t := fmt.Sprintf("d%04d", i*7919%loadDAGs), i%loadRuns, i%loadTasks
		run := fmt.Sprintf("/api/v1/dags/%s/dagRuns/scheduled__%d", d, r)
		switch i % 8 {
		case 0:
			return "/api/v1/dags?limit=100&offset=" + fmt.Sprint(i%10*100)
		case 1:
			return "/api/v1/dags?tags=team3&limit=100"
		case 2:
			return "/api/v1/dags/" + d
		case 3:
			return "/api/v1/dags/" + d + "/dagRuns?limit=25"
		case 4:
			return run
		case 5:
			return run + "/taskInstances"
		case 6:
			return fmt.Sprintf("%s/taskInstances/t%d", run, t)
		default:
			return "/health"
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	for b.Loop() {
		n := int(loadFor.Seconds()) * loadRate
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			if wait := time.Until(start.Add(time.Duration(i) * time.Second / loadRate)); wait > 0 {
				time.Sleep(wait) // pacing of an open-loop load, not synchronisation
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.NewRequest("GET", srv.URL+paths(i), nil)
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+token)
				began := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(began)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("GET %s: %d", paths(i), resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))].Microseconds()) / 1000 }
		b.ReportMetric(pct(0.5), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(1), "max-ms")
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "req/s")
	}
}
