package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// StoreCollector reads the store's counts at each scrape
// (store.CountStates and ListPools): runs and task instances by state,
// queued and running tries by pool and queue, and each pool's size and
// open slots. Every pool, default_pool included, has its queued and
// running series at each scrape, 0 while nothing is queued or running
// there (under the default queue), so a dashboard or an alert never sees
// a pool vanish. Reading at scrape time costs four indexed queries every
// scrape interval and nothing on the scheduler's hot path.
// sirocco_metadatabase_up says whether the read worked; when it did not,
// the counts are absent rather than zero.
type StoreCollector struct {
	st      store.Store
	timeout time.Duration

	up, runs, tasks                  *prometheus.Desc
	queued, running, queuedSl, runSl *prometheus.Desc
	slots, open                      *prometheus.Desc
}

// defaultQueue is the queue of a task that names none (package dag's
// default), under which an idle pool's zeros are reported.
const defaultQueue = "default"

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
		slots:    d("pool_slots", "The pool's size in slots.", "pool"),
		open:     d("pool_open_slots", "Pool slots neither queued nor running tries take (Airflow's pool.open_slots; negative after a pool shrank below its use).", "pool"),
	}
}

// Describe sends every descriptor (prometheus.Collector).
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.runs, c.tasks, c.queued, c.running, c.queuedSl, c.runSl, c.slots, c.open} {
		ch <- d
	}
}

// Collect reads the counts and sends them (prometheus.Collector).
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.st.CountStates(ctx)
	var pools []store.Pool
	if err == nil {
		pools, err = c.st.ListPools(ctx)
	}
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
	c.collectPools(ch, counts.Slots, pools)
}

// collectPools sends the queued and running tries of each pool and queue,
// zeros for a pool with none, and each pool's size and open slots.
func (c *StoreCollector) collectPools(ch chan<- prometheus.Metric, counts []store.SlotCount, pools []store.Pool) {
	used := map[string]int{}
	for _, s := range withIdlePools(counts, pools) {
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.Queued), s.Pool, s.Queue)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(s.Running), s.Pool, s.Queue)
		ch <- prometheus.MustNewConstMetric(c.queuedSl, prometheus.GaugeValue, float64(s.QueuedSlots), s.Pool, s.Queue)
		ch <- prometheus.MustNewConstMetric(c.runSl, prometheus.GaugeValue, float64(s.RunSlots), s.Pool, s.Queue)
		used[s.Pool] += s.QueuedSlots + s.RunSlots
	}
	for _, p := range pools {
		ch <- prometheus.MustNewConstMetric(c.slots, prometheus.GaugeValue, float64(p.Slots), p.Name)
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(p.Slots-used[p.Name]), p.Name)
	}
}

// withIdlePools adds to counts a zero count under the default queue for
// every pool (and default_pool) that has no tries queued or running.
func withIdlePools(counts []store.SlotCount, pools []store.Pool) []store.SlotCount {
	seen := map[string]bool{}
	for _, s := range counts {
		seen[s.Pool] = true
	}
	out := counts
	names := []string{dag.DefaultPool}
	for _, p := range pools {
		names = append(names, p.Name)
	}
	for _, name := range names {
		if !seen[name] {
			seen[name] = true
			out = append(out, store.SlotCount{Pool: name, Queue: defaultQueue})
		}
	}
	return out
}
