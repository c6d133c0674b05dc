package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

const (
	kubeFanWidth = 100 // pod tasks of the parallel run (parallelism 32)
	kubeRuns     = 2   // runs of each DAG per benchmark iteration
)

// taskLine writes one task of a DAG given its id and its depends_on part.
type taskLine func(id, deps string) string

// kubePodTask is a kubernetes_pod task in namespace; kwok runs its pod
// 100 ms (the bed's default), then it Succeeds.
func kubePodTask(namespace string) taskLine {
	return func(id, deps string) string {
		return fmt.Sprintf("  - {id: %s, operator: kubernetes_pod, namespace: %s, image: busybox, cmds: [\"true\"]%s}\n", id, namespace, deps)
	}
}

// emptyTask is an `empty` task: the engine's own cost per task.
func emptyTask(id, deps string) string {
	return fmt.Sprintf("  - {id: %s, operator: empty%s}\n", id, deps)
}

// kubeChainDAG is n tasks, each depending on the previous.
func kubeChainDAG(id string, n int, task taskLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\ntasks:\n", id)
	for i := range n {
		deps := ""
		if i > 0 {
			deps = fmt.Sprintf(", depends_on: [t%03d]", i-1)
		}
		b.WriteString(task(fmt.Sprintf("t%03d", i), deps))
	}
	return b.String()
}

// kubeFanDAG is width independent tasks, max_active_tasks 32 (the
// executor's parallelism).
func kubeFanDAG(id string, width int, task taskLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\nmax_active_tasks: 32\ntasks:\n", id)
	for i := range width {
		b.WriteString(task(fmt.Sprintf("p%03d", i), ""))
	}
	return b.String()
}

// podClock records, from a watch of the namespace, when each task's pod
// was first seen Running and first seen Succeeded: the pod's own run as
// the apiserver tells it, which Sirocco cannot shorten. Pod status times
// have one-second resolution, hence the watch.
type podClock struct {
	mu      sync.Mutex
	added   map[string]time.Time // task id -> the pod's creation event
	running map[string]time.Time // task id -> first Running event
	ended   map[string]time.Time // task id -> first Succeeded event
	changed chan struct{}        // closed (and replaced) at each event seen
	closed  bool                 // the watch ended
}

// watchPods follows the pods of namespace until stop is called (at the
// latest when b ends).
func watchPods(b *testing.B, k *testenv.Kube, namespace string) (c *podClock, stop func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k.Client.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	c = &podClock{added: map[string]time.Time{}, running: map[string]time.Time{}, ended: map[string]time.Time{}, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.stopped()
		for ev := range w.ResultChan() {
			if pod, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
				c.saw(pod, time.Now())
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			w.Stop()
			<-done
		})
	}
	b.Cleanup(stop)
	return c, stop
}

func (c *podClock) saw(pod *corev1.Pod, at time.Time) {
	task := pod.Labels["task_id"]
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.signal()
	if _, ok := c.added[task]; !ok {
		c.added[task] = at
	}
	switch pod.Status.Phase {
	case corev1.PodRunning:
		if _, ok := c.running[task]; !ok {
			c.running[task] = at
		}
	case corev1.PodSucceeded:
		if _, ok := c.ended[task]; !ok {
			c.ended[task] = at
		}
	}
}

// signal wakes those waiting for an event; c.mu is held.
func (c *podClock) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// stopped records that the watch ended: no more events will come.
func (c *podClock) stopped() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.signal()
}

func (c *podClock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.added)
	clear(c.running)
	clear(c.ended)
}

// times returns the task's pod's creation -> Running time (the
// apiserver, kube-scheduler and kwok starting it) and its Running ->
// Succeeded time. The benchmark's watch may lag behind the operator's on
// a busy machine: it waits (bounded) for the watch to see both.
func (c *podClock) times(b *testing.B, task string) (start, ran time.Duration) {
	b.Helper()
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	for {
		c.mu.Lock()
		a := c.added[task]
		r, ok1 := c.running[task]
		e, ok2 := c.ended[task]
		changed, closed := c.changed, c.closed
		c.mu.Unlock()
		if ok1 && ok2 {
			return r.Sub(a), e.Sub(r)
		}
		if closed {
			b.Fatalf("the benchmark's watch ended before it saw Running (%v) and Succeeded (%v) of task %s's pod", ok1, ok2, task)
		}
		select {
		case <-changed:
		case <-limit.C:
			b.Fatalf("the watch saw no Running (%v) or Succeeded (%v) of task %s's pod within 30 s", ok1, ok2, task)
		}
	}
}

// kubeOverheads runs dagID once and returns its wall time, each task's
// overhead (its wall time, start_date to end_date, minus its pod's
// Running -> Succeeded time) and each pod's creation -> Running time,
// the control plane's share of the overhead.
func kubeOverheads(b *testing.B, r *rig, clock *podClock, dagID string) (wall time.Duration, over, starts []time.Duration) {
	b.Helper()
	clock.reset()
	runID, wall := r.run(dagID, 10*time.Minute)
	for task, ti := range r.taskInstances(dagID, runID) {
		start, ran := clock.times(b, task)
		over, starts = append(over, ti.EndDate.Sub(ti.StartDate)-ran), append(starts, start)
	}
	return wall, over, starts
}

// BenchmarkKubePods measures Sirocco's own cost per kubernetes_pod task on
// the Kubernetes test bed (a real kube-apiserver and kube-scheduler; kwok
// runs each pod 100 ms, then Succeeds it), through the in-process engine
// on SQLite with production settings (parallelism 32): a chain of 40 pod
// tasks, and 100 independent pod tasks. A task's overhead is its wall
// time minus its pod's Running -> Succeeded time (from a watch of the
// namespace): creating the pod, the scheduler and kwok starting it, the
// operator's watch and log stream, the delete (on_finish_action
// delete_pod) and the engine's writes. cpu-ms/pod-task is this process's
// CPU time (engine, client-go, the benchmark's own watch) per pod task,
// cpu-ms/empty-task the same for the same DAGs of `empty` tasks (run
// interleaved), and cpu-ms/pod their difference, the Go-side cost of a
// pod: it must stay under 5 ms (the operator watches the pod, never
// polls). The CPU rounds run after the timed ones, with the benchmark's
// own watch stopped. Without the bed it skips, or fails under CI=true.
func BenchmarkKubePods(b *testing.B) {
	const chainID, fanID, emptyChainID, emptyFanID = "kubechain40", "kubefan100", "emptychain40", "emptyfan100"
	k := testenv.StartKube(b)
	ns := k.Namespace(b)
	podLog := filepath.Join(b.TempDir(), "pod.log")
	if err := os.WriteFile(podLog, []byte("hello from the pod\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	k.ServeLogs(b, ns, podLog)
	b.Setenv(connection.EnvPrefix+"KUBERNETES_DEFAULT", "kubernetes://?kube_config_path="+url.QueryEscape(k.Kubeconfig)+"&namespace="+ns)
	clock, stopWatch := watchPods(b, k, ns)
	r := startEngine(b, "sqlite://"+filepath.Join(workDir(b), "sirocco.db"), map[string]string{
		chainID: kubeChainDAG(chainID, chainLen, kubePodTask(ns)), fanID: kubeFanDAG(fanID, kubeFanWidth, kubePodTask(ns)),
		emptyChainID: kubeChainDAG(emptyChainID, chainLen, emptyTask), emptyFanID: kubeFanDAG(emptyFanID, kubeFanWidth, emptyTask)})
	kubeOverheads(b, r, clock, chainID) // warm-up: client, connections, caches
	kubeOverheads(b, r, clock, fanID)
	r.run(emptyChainID, time.Minute)
	r.run(emptyFanID, time.Minute)

	var chainWalls, fanWalls, chainOver, fanOver, chainStarts, fanStarts []time.Duration
	var cpu, emptyCPU, sys time.Duration
	pods := 0
	for b.Loop() {
		for range kubeRuns {
			wall, over, starts := kubeOverheads(b, r, clock, chainID)
			chainWalls, chainOver, chainStarts = append(chainWalls, wall), append(chainOver, over...), append(chainStarts, starts...)
			wall, over, starts = kubeOverheads(b, r, clock, fanID)
			fanWalls, fanOver, fanStarts = append(fanWalls, wall), append(fanOver, over...), append(fanStarts, starts...)
		}
	}
	stopWatch()
	for range kubeRuns {
		cpu0, sys0 := processCPU(b), systemCPU(b)
		r.run(chainID, 10*time.Minute)
		r.run(fanID, 10*time.Minute)
		cpu1 := processCPU(b)
		sys += systemCPU(b) - sys0
		r.run(emptyChainID, time.Minute)
		r.run(emptyFanID, time.Minute)
		cpu, emptyCPU = cpu+cpu1-cpu0, emptyCPU+processCPU(b)-cpu1
		pods += chainLen + kubeFanWidth
	}
	if left := k.Pods(b, ns, ""); len(left) != 0 {
		b.Errorf("%d pods left after the runs (on_finish_action delete_pod)", len(left))
	}
	cpuPerTask, cpuPerEmpty := ms(cpu)/float64(pods), ms(emptyCPU)/float64(pods)
	cpuPerPod := cpuPerTask - cpuPerEmpty
	b.ReportMetric(ms(percentile(chainOver, 50)), "chain-overhead-p50-ms")
	b.ReportMetric(ms(percentile(chainStarts, 50)), "chain-pod-start-p50-ms")
	b.ReportMetric(ms(percentile(fanStarts, 50)), "fan-pod-start-p50-ms")
	b.ReportMetric(ms(percentile(chainWalls, 50)), "chain-wall-ms")
	b.ReportMetric(ms(percentile(chainWalls, 50))/chainLen, "chain-task-ms")
	b.ReportMetric(ms(percentile(fanWalls, 50)), "fan-wall-ms")
	b.ReportMetric(ms(percentile(fanOver, 50)), "fan-overhead-p50-ms")
	b.ReportMetric(ms(percentile(fanOver, 95)), "fan-overhead-p95-ms")
	b.ReportMetric(cpuPerTask, "cpu-ms/pod-task")
	b.ReportMetric(cpuPerEmpty, "cpu-ms/empty-task")
	b.ReportMetric(cpuPerPod, "cpu-ms/pod")
	b.ReportMetric(ms(sys)/float64(pods), "sys-cpu-ms/pod-task")
	b.Logf("chain: overhead p50 %.1f ms (pod start %.1f ms), wall %.0f ms; fan of %d at parallelism 32: wall %.0f ms, overhead p50 %.1f ms p95 %.1f ms (pod start p50 %.1f ms); "+
		"CPU per pod task %.2f ms (system %.2f ms), per empty task %.2f ms, per pod %.2f ms",
		ms(percentile(chainOver, 50)), ms(percentile(chainStarts, 50)), ms(percentile(chainWalls, 50)), kubeFanWidth, ms(percentile(fanWalls, 50)),
		ms(percentile(fanOver, 50)), ms(percentile(fanOver, 95)), ms(percentile(fanStarts, 50)), cpuPerTask, ms(sys)/float64(pods), cpuPerEmpty, cpuPerPod)
	if cpuPerPod >= 5 {
		b.Errorf("Go-side CPU per pod %.2f ms, want under 5 ms", cpuPerPod)
	}
}

// systemCPU returns the system (kernel) CPU time this process has used.
func systemCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Stime.Nano())
}
