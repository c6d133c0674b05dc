package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/metrics"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestMetrics: /metrics answers the Prometheus text format with the
// store's counts read at the scrape and the API's request latency by route
// pattern (never by run id), behind the API's guard.
func TestMetrics(t *testing.T) {
	m := metrics.New()
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n  - {id: b, operator: empty}\n"},
		func(o *api.Options) { o.Metrics = m })
	m.Store(s.st, 5*time.Second)
	now := time.Now().UTC()
	run := store.DagRun{DagID: "d", RunID: "secret_looking_run_id", RunType: store.RunManual, State: store.RunRunning,
		LogicalDate: now, QueuedAt: now}
	tis := []store.TaskInstance{
		{TaskKey: store.TaskKey{TaskID: "a"}, Pool: "default_pool", PoolSlots: 1, Queue: "default"},
		{TaskKey: store.TaskKey{TaskID: "b"}, Pool: "default_pool", PoolSlots: 1, Queue: "default"},
	}
	if err := s.st.CreateRun(t.Context(), run, tis); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: run.RunID, TaskID: "a"},
		From: []store.TaskState{store.StateNone}, To: store.StateRunning}); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/api/v1/dags/d/dagRuns/"+run.RunID, nil); r.status != http.StatusOK {
		t.Fatalf("get run: %d", r.status)
	}

	families := scrape(t, s)
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		v, ok := families.value(name, labels)
		if !ok {
			t.Fatalf("no %s%v in /metrics", name, labels)
		}
		return v
	}
	if v := value("sirocco_metadatabase_up", nil); v != 1 {
		t.Errorf("metadatabase_up = %v", v)
	}
	if v := value("sirocco_dag_runs", map[string]string{"state": "running"}); v != 1 {
		t.Errorf("running runs = %v", v)
	}
	if v := value("sirocco_task_instances", map[string]string{"state": "none"}); v != 1 {
		t.Errorf("task instances in state none = %v", v)
	}
	if v := value("sirocco_pool_running_slots", map[string]string{"pool": "default_pool", "queue": "default"}); v != 1 {
		t.Errorf("running slots = %v", v)
	}
	route := map[string]string{"method": "GET", "route": "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}", "code": "200"}
	if v := value("sirocco_http_request_duration_seconds", route); v != 1 {
		t.Errorf("requests of the run route = %v", v)
	}
	if body := s.do("GET", "/metrics", nil).body; bytes.Contains(body, []byte(run.RunID)) {
		t.Error("a run id became a label")
	}
	if _, ok := families.value("go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}
}

// TestMetricsBehindTheGuard: with an API token, /metrics needs it too.
func TestMetricsBehindTheGuard(t *testing.T) {
	s := newSite(t, nil, func(o *api.Options) {
		o.Metrics = metrics.New()
		o.Config.APIToken = "tok-metrics"
	})
	if r := s.do("GET", "/metrics", nil); r.status != http.StatusUnauthorized {
		t.Errorf("without the token: %d", r.status)
	}
	if r := s.do("GET", "/metrics", nil, "Authorization", "Bearer tok-metrics"); r.status != http.StatusOK {
		t.Errorf("with the token: %d", r.status)
	}
}

// scraped is one scrape of /metrics, parsed.
type scraped struct {
	// value is the value (a gauge's, a histogram's sample count) of the
	// first series of name whose labels include labels.
	value func(name string, labels map[string]string) (float64, bool)
	// labels lists the label sets of name's series.
	labels func(name string) []map[string]string
}

// scrape reads /metrics through the site, as Prometheus does, and parses
// the text format.
func scrape(t *testing.T, s *site) scraped {
	t.Helper()
	r := s.do("GET", "/metrics", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	labels := func(name string) []map[string]string {
		var out []map[string]string
		for _, mt := range families[name].GetMetric() {
			set := map[string]string{}
			for _, lp := range mt.GetLabel() {
				set[lp.GetName()] = lp.GetValue()
			}
			out = append(out, set)
		}
		return out
	}
	value := func(name string, want map[string]string) (float64, bool) {
	next:
		for i, set := range labels(name) {
			for k, v := range want {
				if set[k] != v {
					continue next
				}
			}
			mt := families[name].GetMetric()[i]
			if mt.GetHistogram() != nil {
				return float64(mt.GetHistogram().GetSampleCount()), true
			}
			return mt.GetGauge().GetValue(), true
		}
		return 0, false
	}
	return scraped{value: value, labels: labels}
}

// TestMetricsIdlePools: with nothing queued or running, every pool, the
// default pool included, has its queued and running series at 0 and its
// open slots equal to its size; a try running takes its slots from the
// open ones.
func TestMetricsIdlePools(t *testing.T) {
	m := metrics.New()
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: a, operator: empty, pool: gpu, pool_slots: 2}\n"},
		func(o *api.Options) { o.Metrics = m })
	m.Store(s.st, 5*time.Second)
	if r := s.do("POST", "/api/v1/pools", map[string]any{"name": "gpu", "slots": 3}); r.status != http.StatusOK {
		t.Fatalf("create pool: %d %s", r.status, r.body)
	}
	families := scrape(t, s)
	for _, pool := range []string{"default_pool", "gpu"} {
		for _, name := range []string{"sirocco_pool_queued_tasks", "sirocco_pool_running_tasks",
			"sirocco_pool_queued_slots", "sirocco_pool_running_slots"} {
			if v, ok := families.value(name, map[string]string{"pool": pool, "queue": "default"}); !ok || v != 0 {
				t.Errorf("%s{pool=%s} = %v, %v; want a 0", name, pool, v, ok)
			}
		}
	}
	if v, ok := families.value("sirocco_pool_open_slots", map[string]string{"pool": "gpu"}); !ok || v != 3 {
		t.Errorf("open slots of gpu = %v, %v; want 3", v, ok)
	}
	if v, ok := families.value("sirocco_pool_open_slots", map[string]string{"pool": "default_pool"}); !ok || v != 128 {
		t.Errorf("open slots of default_pool = %v, %v; want 128", v, ok)
	}

	now := time.Now().UTC()
	run := store.DagRun{DagID: "d", RunID: "r", RunType: store.RunManual, State: store.RunRunning, LogicalDate: now, QueuedAt: now}
	ti := store.TaskInstance{TaskKey: store.TaskKey{TaskID: "a"}, Pool: "gpu", PoolSlots: 2, Queue: "default"}
	if err := s.st.CreateRun(t.Context(), run, []store.TaskInstance{ti}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.UpdateTask(t.Context(), store.TaskUpdate{Key: store.TaskKey{DagID: "d", RunID: "r", TaskID: "a"},
		From: []store.TaskState{store.StateNone}, To: store.StateRunning}); err != nil {
		t.Fatal(err)
	}
	families = scrape(t, s)
	if v, _ := families.value("sirocco_pool_running_slots", map[string]string{"pool": "gpu"}); v != 2 {
		t.Errorf("running slots of gpu = %v, want 2", v)
	}
	if v, _ := families.value("sirocco_pool_open_slots", map[string]string{"pool": "gpu"}); v != 1 {
		t.Errorf("open slots of gpu = %v, want 1", v)
	}
	if v, ok := families.value("sirocco_pool_running_tasks", map[string]string{"pool": "default_pool"}); !ok || v != 0 {
		t.Errorf("default_pool running = %v, %v; want a 0", v, ok)
	}
}

// TestMetricsCountEveryAnswer: every answer is counted, the auth
// middleware's refusals (401 without credentials, 403 for a Viewer) as
// much as the API's, under the route's path pattern, with the method a
// label of its own; paths no route has share the single route "other".
func TestMetricsCountEveryAnswer(t *testing.T) {
	m := metrics.New()
	s := newSite(t, map[string]string{"d.yaml": "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n"},
		func(o *api.Options) { o.Metrics = m; o.Config.APIToken = apiToken })
	users := auth.Users{Store: s.st}
	if err := users.Create(t.Context(), "vic", auth.Viewer, "password-vic"); err != nil {
		t.Fatal(err)
	}
	viewer, _, err := users.CreateToken(t.Context(), "vic", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	send := func(token, method, path string, body any, n int) {
		s.token = token
		for range n {
			s.do(method, path, body)
		}
	}
	send("", "GET", "/api/v1/dags", nil, 2)                       // 401 from the auth middleware
	send("wrong", "GET", "/api/v1/dags/d", nil, 1)                // 401: unknown token
	send("", "GET", "/metrics", nil, 1)                           // 401 on /metrics itself
	send(viewer, "GET", "/api/v1/connections", nil, 1)            // 403 from the route's role
	send(viewer, "POST", "/api/v1/dags/d/dagRuns", struct{}{}, 1) // 403
	send(apiToken, "GET", "/api/v1/dags/d", nil, 3)               // 200
	send(apiToken, "GET", "/api/v1/nowhere/1", nil, 1)            // 404, unknown path
	send(apiToken, "GET", "/api/v1/nowhere/2", nil, 1)
	send("", "GET", "/some/page", nil, 1) // 401 outside the API
	send("", "GET", "/health", nil, 1)

	s.token = apiToken
	families := scrape(t, s)
	want := []struct {
		method, route, code string
		n                   float64
	}{
		{"GET", "/api/v1/dags", "401", 2},
		{"GET", "/api/v1/dags/{dag_id}", "401", 1},
		{"GET", "/metrics", "401", 1},
		{"GET", "/api/v1/connections", "403", 1},
		{"POST", "/api/v1/dags/{dag_id}/dagRuns", "403", 1},
		{"GET", "/api/v1/dags/{dag_id}", "200", 3},
		{"GET", "other", "404", 2},
		{"GET", "other", "401", 1},
		{"GET", "/health", "200", 1},
	}
	for _, w := range want {
		labels := map[string]string{"method": w.method, "route": w.route, "code": w.code}
		if v, ok := families.value("sirocco_http_request_duration_seconds", labels); !ok || v != w.n {
			t.Errorf("requests %v = %v, %v; want %v", labels, v, ok, w.n)
		}
	}
	for _, set := range families.labels("sirocco_http_request_duration_seconds") {
		route := set["route"]
		if strings.HasPrefix(route, set["method"]+" ") || strings.Contains(route, "nowhere") || strings.Contains(route, "/d/") {
			t.Errorf("route label %q repeats the method or holds a path", route)
		}
	}
}
