package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// StoreCollector reads the store's counts at each scrape
// (store.CountStates): runs and task instances by state, and queued and
// running tries by pool and queue. Reading at scrape time costs three
// indexed GROUP BY queries every scrape interval and nothing on the
// scheduler's hot path. sirocco_metadatabase_up says whether the read
// worked; when it did not, the counts are absent rather than zero.
type StoreCollector struct {
	st      store.Store
	timeout time.Duration

	up, runs, tasks                  *prometheus.Desc
	queued, running, queuedSl, runSl *prometheus.Desc
}

// NewStoreCollector returns a collector over st whose reads give up after
// timeout (a scrape must not hang on a locked database).
func NewStoreCollector(st store.Store, timeout time.Duration) *StoreCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
	}
	return &StoreCollector{
		st: st, timeout: timeout,
		up:       d("metadatabase_up", "1 when the last scrape could read the metadata database, else 0."),
		runs:     d("dag_runs", "DAG runs by state.", "state"),
		tasks:    d("task_instances", "Task instances by state (none for a task not scheduled yet).", "state"),
		queued:   d("pool_queued_tasks", "Tries queued, by pool and queue.", "pool", "queue"),
		running:  d("pool_running_tasks", "Tries running, by pool and queue.", "pool", "queue"),
		queuedSl: d("pool_queued_slots", "Pool slots taken by queued tries (Airflow's pool.queued_slots).", "pool", "queue"),
		runSl:    d("pool_running_slots", "Pool slots taken by running tries (Airflow's pool.running_slots).", "pool", "queue"),
	}
}

// Describe sends every descriptor (prometheus.Collector).
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.runs, c.tasks, c.queued, c.running, c.queuedSl, c.runSl} {
		ch <- d
	}
}

// Collect reads the counts and sends them (prometheus.Collector).
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.st.CountStates(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for state, n := range counts.Runs {
		ch <- prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, float64(n), string(state))
	}
	for state, n := range counts.Tasks {
		label := string(state)
		if state == store.StateNone {
			label = "none"
		}
		ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), label)
	}
	for _, s := range counts.Slots {
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.Queued), s.Pool, s.Queue)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(s.Running), s.Pool, s.Queue)
		ch <- prometheus.MustNewConstMetric(c.queuedSl, prometheus.GaugeValue, float64(s.QueuedSlots), s.Pool, s.Queue)
		ch <- prometheus.MustNewConstMetric(c.runSl, prometheus.GaugeValue, float64(s.RunSlots), s.Pool, s.Queue)
	}
}
