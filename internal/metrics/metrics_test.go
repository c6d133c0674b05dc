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

// TestInstrumentLabelsByPattern: the latency is labelled by the route a
// ServeMux matched (never the path's ids) and the status answered.
func TestInstrumentLabelsByPattern(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /runs/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.Instrument(mux, nil)
	for _, path := range []string{"/runs/a", "/runs/b", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds", map[string]string{"route": "GET /runs/{id}", "code": "418"}); n != 2 {
		t.Errorf("requests of the route = %d, want 2", n)
	}
	if n, _ := histogram(t, m, "sirocco_http_request_duration_seconds", map[string]string{"route": "unmatched", "code": "404"}); n != 1 {
		t.Errorf("unmatched requests = %d, want 1", n)
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
