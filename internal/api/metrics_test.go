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

	r := s.do("GET", "/metrics", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("no %s in /metrics", name)
		}
	next:
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case mt.GetGauge() != nil:
				return mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				return float64(mt.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("no %s%v in /metrics", name, labels)
		return 0
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
	route := map[string]string{"method": "GET", "route": "GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}", "code": "200"}
	if v := value("sirocco_http_request_duration_seconds", route); v != 1 {
		t.Errorf("requests of the run route = %v", v)
	}
	if bytes.Contains(r.body, []byte(run.RunID)) {
		t.Error("a run id became a label")
	}
	if _, ok := families["go_goroutines"]; !ok {
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
