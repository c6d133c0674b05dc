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
	"net/http"
	"strconv"
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
			Help:    "Latency of HTTP requests served, by method, route pattern and status code.",
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

// Instrument wraps an HTTP handler so each request's latency is recorded
// by method, route and status code. route names the request's route
// pattern (a ServeMux pattern, so a run id never becomes a label); when
// nil, the pattern a ServeMux below set on the request is used. A request
// no route matches is labelled "unmatched".
func (m *Metrics) Instrument(next http.Handler, route func(*http.Request) string) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		pattern := r.Pattern
		if route != nil {
			pattern = route(r)
		}
		if pattern == "" {
			pattern = "unmatched"
		}
		m.httpDuration.WithLabelValues(r.Method, pattern, strconv.Itoa(sw.code)).Observe(time.Since(began).Seconds())
	})
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
