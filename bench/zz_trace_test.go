package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

type ev struct {
	start, end time.Time
	op, task   string
}

type traceStore struct {
	store.Store
	mu  sync.Mutex
	evs []ev
}

func (t *traceStore) rec(op, task string, s time.Time) {
	e := time.Now()
	t.mu.Lock()
	t.evs = append(t.evs, ev{s, e, op, task})
	t.mu.Unlock()
}
func (t *traceStore) UpdateTask(ctx context.Context, u store.TaskUpdate) (bool, error) {
	s := time.Now()
	ok, err := t.Store.UpdateTask(ctx, u)
	op := "upd:" + string(u.To)
	if u.Handle != nil {
		op = "upd:handle"
	}
	t.rec(op, u.Key.TaskID, s)
	return ok, err
}
func (t *traceStore) GetTaskInstance(ctx context.Context, k store.TaskKey) (store.TaskInstance, error) {
	s := time.Now()
	ti, err := t.Store.GetTaskInstance(ctx, k)
	t.rec("getTI", k.TaskID, s)
	return ti, err
}
func (t *traceStore) GetRun(ctx context.Context, d, r string) (store.DagRun, error) {
	s := time.Now()
	x, err := t.Store.GetRun(ctx, d, r)
	t.rec("getRun", "", s)
	return x, err
}
func (t *traceStore) ListRuns(ctx context.Context, f store.RunFilter) ([]store.DagRun, error) {
	s := time.Now()
	x, err := t.Store.ListRuns(ctx, f)
	t.rec("listRuns", "", s)
	return x, err
}
func (t *traceStore) ActiveTaskInstances(ctx context.Context) ([]store.TaskInstance, error) {
	s := time.Now()
	x, err := t.Store.ActiveTaskInstances(ctx)
	t.rec("active", "", s)
	return x, err
}

func BenchmarkZZTrace(b *testing.B) {
	backends(b, func(b *testing.B, dsn string) {
		r := startEngine(b, dsn, map[string]string{"chain40": chainDAG("chain40", chainLen)})
		ts := &traceStore{Store: r.st.Store}
		r.st.Store = ts
		for b.Loop() {
			r.run("chain40", time.Minute)
			ts.mu.Lock()
			ts.evs = nil
			ts.mu.Unlock()
			r.run("chain40", time.Minute)
		}
		ts.mu.Lock()
		evs := ts.evs
		ts.mu.Unlock()
		sort.Slice(evs, func(i, j int) bool { return evs[i].start.Before(evs[j].start) })
		find := func(op, task string) ev {
			for _, e := range evs {
				if e.op == op && e.task == task {
					return e
				}
			}
			b.Fatalf("no %s %s", op, task)
			return ev{}
		}
		var A, B, C, D, E []time.Duration
		for i := 1; i < chainLen; i++ {
			prev, cur := fmt.Sprintf("t%03d", i-1), fmt.Sprintf("t%03d", i)
			ps := find("upd:success", prev)
			q := find("upd:queued", cur)
			run := find("upd:running", cur)
			h := find("upd:handle", cur)
			su := find("upd:success", cur)
			A = append(A, q.start.Sub(ps.end))
			B = append(B, run.end.Sub(q.end))
			C = append(C, h.start.Sub(run.end))
			D = append(D, su.start.Sub(h.start))
			E = append(E, su.end.Sub(su.start))
		}
		fmt.Printf("%s: sched-react %.3f | pickup+claim %.3f | log+spawn %.3f | handle+wait %.3f | finish-write %.3f  (p50 ms)\n",
			b.Name(), ms(percentile(A, 50)), ms(percentile(B, 50)), ms(percentile(C, 50)), ms(percentile(D, 50)), ms(percentile(E, 50)))
		fmt.Printf("%s: p90 sched-react %.3f | pickup+claim %.3f | log+spawn %.3f | handle+wait %.3f | finish-write %.3f\n",
			b.Name(), ms(percentile(A, 90)), ms(percentile(B, 90)), ms(percentile(C, 90)), ms(percentile(D, 90)), ms(percentile(E, 90)))
	})
}

func BenchmarkZZFanTrace(b *testing.B)   { aggTrace(b, fanDAG("fan", 1000)) }
func BenchmarkZZChainTrace(b *testing.B) { aggTrace(b, chainsDAG("fan", 100, 100)) }

func aggTrace(b *testing.B, body string) {
	backends(b, func(b *testing.B, dsn string) {
		r := startEngine(b, dsn, map[string]string{"fan": body})
		ts := &traceStore{Store: r.st.Store}
		r.st.Store = ts
		var wall time.Duration
		for b.Loop() {
			_, wall = r.run("fan", time.Minute)
		}
		ts.mu.Lock()
		evs := ts.evs
		ts.mu.Unlock()
		type agg struct {
			n   int
			sum time.Duration
		}
		m := map[string]*agg{}
		for _, e := range evs {
			a := m[e.op]
			if a == nil {
				a = &agg{}
				m[e.op] = a
			}
			a.n++
			a.sum += e.end.Sub(e.start)
		}
		fmt.Printf("%s wall %v\n", b.Name(), wall)
		var first, last time.Time
		for _, e := range evs {
			if first.IsZero() || e.start.Before(first) {
				first = e.start
			}
			if e.end.After(last) {
				last = e.end
			}
		}
		fmt.Printf("  span %v\n", last.Sub(first))
		for op, a := range m {
			fmt.Printf("  %-12s n=%5d total=%8.1fms mean=%.3fms\n", op, a.n, ms(a.sum), ms(a.sum)/float64(a.n))
		}
	})
}
