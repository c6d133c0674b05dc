package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// TestNilObservesNothing: code run without /metrics holds a nil *Metrics
// and calls it freely.
func TestNilObservesNothing(t *testing.T) {
	var m *Metrics
	m.ObserveTick(time.Millisecond)
	m.ObserveTryEnd(store.TaskInstance{State: store.StateSuccess})
	m.Slots("local", 4, func() int { return 4 })
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := m.Instrument(h, nil); got == nil {
		t.Fatal("Instrument of nil returned nil")
	}
}

// TestTryDurations: a try's duration is recorded under its DAG and end
// state; a try that never started has none.
func TestTryDurations(t *testing.T) {
	m := New()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.ObserveTryEnd(store.TaskInstance{TaskKey: store.TaskKey{DagID: "d"}, State: store.StateSuccess,
		StartDate: start, EndDate: start.Add(3 * time.Second)})
	m.ObserveTryEnd(store.TaskInstance{TaskKey: store.TaskKey{DagID: "d"}, State: store.StateUpstreamFailed, EndDate: start})
	n, sum := histogram(t, m, "sirocco_task_duration_seconds", map[string]string{"dag_id": "d", "state": "success"})
	if n != 1 || sum != 3 {
		t.Errorf("success tries: count %d sum %v, want 1 and 3", n, sum)
	}
	if n, _ := histogram(t, m, "sirocco_task_duration_seconds", map[string]string{"state": "upstream_failed"}); n != 0 {
		t.Errorf("a never-started try was recorded %d times", n)
	}
}

// TestInstrumentLabelsByPattern: the latency is labelled by the method and
// the path pattern a ServeMux matched (never the path's ids, never the
// method again in the route) and the status answered; a path no route
// matches is the single route "other".
func TestInstrumentLabelsByPattern(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /runs/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.Instrument(mux, nil)
	for _, path := range []string{"/runs/a", "/runs/b", "/nowhere", "/elsewhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds",
		map[string]string{"method": "GET", "route": "/runs/{id}", "code": "418"}); n != 2 {
		t.Errorf("requests of the route = %d, want 2", n)
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds", map[string]string{"route": "other", "code": "404"}); n != 2 {
		t.Errorf("unmatched requests = %d, want 2", n)
	}
}

// TestLabelRoute: a handler routing with its own ServeMux behind another
// (the UI behind the site's catch-all "/") is labelled by its own
// pattern, and by "other" when it matches none, not by the catch-all.
func TestLabelRoute(t *testing.T) {
	m := New()
	inner := http.NewServeMux()
	inner.HandleFunc("GET /dags/{dag_id}", func(http.ResponseWriter, *http.Request) {})
	outer := http.NewServeMux()
	outer.Handle("/", LabelRoute(inner))
	// A clone between the two, as the auth middleware makes.
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outer.ServeHTTP(w, r.WithContext(r.Context()))
	}), func(*http.Request) string { return "" })
	for _, path := range []string{"/dags/a", "/dags/b", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds", map[string]string{"route": "/dags/{dag_id}", "code": "200"}); n != 2 {
		t.Errorf("requests of the inner route = %d, want 2", n)
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds", map[string]string{"route": "other", "code": "404"}); n != 1 {
		t.Errorf("unmatched requests = %d, want 1", n)
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds", map[string]string{"route": "/"}); n != 0 {
		t.Errorf("the catch-all became a route: %d", n)
	}
}

// histogram returns the sample count and sum of the histogram series of
// name whose labels include labels (0, 0 when there is none).
func histogram(t *testing.T, m *Metrics, name string, labels map[string]string) (uint64, float64) {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue series
				}
			}
			return s.GetHistogram().GetSampleCount(), s.GetHistogram().GetSampleSum()
		}
	}
	return 0, 0
}
