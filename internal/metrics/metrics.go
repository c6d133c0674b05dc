// Package metrics exposes Sirocco's figures in the Prometheus text format
// at /metrics, with prometheus/client_golang: the scheduler loop's tick
// durations, runs and task instances by state, queued and running tries by
// pool and queue, try durations, executor slots and the API's request
// latency.
//
// Counts of rows are read from the store at each scrape rather than kept
// as counters, so every process (standalone, scheduler, api-server)
// reports the same figures, and a restart loses nothing. What only a
// process knows (its ticks, its slots, its requests) it reports itself.
// Each process has its own registry: nothing is registered globally.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// namespace prefixes every metric name.
const namespace = "sirocco"

// Metrics is one process's registry and the metrics it observes itself.
// A nil *Metrics observes nothing, so code paths that run without
// /metrics (dags test, unit tests) need no checks.
type Metrics struct {
	reg          *prometheus.Registry
	tick         prometheus.Histogram
	tryDuration  *prometheus.HistogramVec
	httpDuration *prometheus.HistogramVec
}

// New returns a registry with the Go runtime's and the process's
// collectors and Sirocco's own metrics.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		tick: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "scheduler", Name: "loop_duration_seconds",
			Help: "Duration of one scheduler loop tick: snapshot, decision and writes.",
			// A hand-off tick takes about 0.1 ms; a tick creating runs or
			// reading a large feed takes milliseconds.
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10),
		}),
		tryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "task", Name: "duration_seconds",
			Help: "Duration of task tries, from start to end, by DAG and the state the try ended in.",
			// From a 1 ms `true` to a day-long Spark job.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 13),
		}, []string{"dag_id", "state"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Latency of every HTTP answer, refusals included, by method, route pattern (without the method; other for unknown paths) and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"method", "route", "code"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.tick, m.tryDuration, m.httpDuration)
	return m
}

// Handler serves the registry in the Prometheus text format. A failing
// collector (an unreachable store) is reported in the answer's metrics,
// not as a 500, so the rest still reaches Prometheus.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveTick records one scheduler tick (scheduler.Metrics).
func (m *Metrics) ObserveTick(d time.Duration) {
	if m == nil {
		return
	}
	m.tick.Observe(d.Seconds())
}

// ObserveTryEnd records a try's duration by the state it ended in
// (scheduler.Metrics). A try without a start (never started: failed
// upstream, marked while queued) has no duration and is not recorded.
func (m *Metrics) ObserveTryEnd(ti store.TaskInstance) {
	if m == nil || ti.StartDate.IsZero() || ti.EndDate.Before(ti.StartDate) {
		return
	}
	m.tryDuration.WithLabelValues(ti.DagID, string(ti.State)).Observe(ti.EndDate.Sub(ti.StartDate).Seconds())
}

// Slots reports an executor's slots at each scrape: free is read then
// (FreeSlots), so the hot path pays nothing.
func (m *Metrics) Slots(executor string, parallelism int, free func() int) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"executor": executor}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "executor", Name: "open_slots", ConstLabels: labels,
			Help: "Slots of the executor free for more tries (Airflow's executor.open_slots).",
		}, func() float64 { return float64(free()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "executor", Name: "running_tasks", ConstLabels: labels,
			Help: "Tries the executor holds now (Airflow's executor.running_tasks).",
		}, func() float64 { return float64(parallelism - free()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "executor", Name: "parallelism", ConstLabels: labels,
			Help: "The executor's configured parallelism.",
		}, func() float64 { return float64(parallelism) }),
	)
}

// Store reports the store's counts at each scrape (see StoreCollector).
func (m *Metrics) Store(st store.Store, timeout time.Duration) {
	if m == nil {
		return
	}
	m.reg.MustRegister(NewStoreCollector(st, timeout))
}

// OtherRoute labels the requests of no known route (a path nothing
// serves, a method a path does not take): one series for all of them, so
// stray paths cannot multiply the labels.
const OtherRoute = "other"

// Instrument wraps an HTTP handler so every answer is counted with its
// latency, by method, route and status code, whatever answered it (a
// refusal of the auth middleware inside next too). The route label is a
// path pattern without its method, never a path (ids never become
// labels): the one a handler inside named (LabelRoute), else route's
// (nil: none), else the pattern a ServeMux directly inside set on the
// request, else OtherRoute.
func (m *Metrics) Instrument(next http.Handler, route func(*http.Request) string) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		label := &routeLabel{}
		r = r.WithContext(context.WithValue(r.Context(), labelKey{}, label))
		next.ServeHTTP(sw, r)
		name := label.route
		if name == "" && route != nil {
			name = route(r)
		}
		if name == "" {
			name = patternPath(r.Pattern)
		}
		if name == "" {
			name = OtherRoute
		}
		m.httpDuration.WithLabelValues(r.Method, name, strconv.Itoa(sw.code)).Observe(time.Since(began).Seconds())
	})
}

// routeLabel carries the route a handler inside Instrument named.
type routeLabel struct{ route string }

type labelKey struct{}

// LabelRoute wraps a handler whose own ServeMux routes its requests (the
// web UI) so that Instrument, outside, labels them by the pattern that
// ServeMux matched; a request it matched none of is OtherRoute.
func LabelRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = "" // a catch-all pattern outside ("/") names no route of next
		next.ServeHTTP(w, r)
		if l, ok := r.Context().Value(labelKey{}).(*routeLabel); ok {
			l.route = patternPath(r.Pattern)
		}
	})
}

// patternPath is a ServeMux pattern's path: without its method and host
// ("GET /dags/{dag_id}" → "/dags/{dag_id}").
func patternPath(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		pattern = p
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return pattern
}

// statusWriter remembers the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes for
// live logs and server-sent events).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
