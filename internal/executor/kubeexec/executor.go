package kubeexec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Options configure an Executor.
type Options struct {
	Settings config.KubernetesExecutor
	// Runner is the scheduler's: its store, DAGs, logs folder, worker id
	// (the one claims record), clock, logger and connections.
	Runner *executor.Runner
	// PodEnv is the environment every worker pod gets where its template
	// sets none: how to reach the store and the DAGs, the heartbeat.
	PodEnv map[string]string
	// PodSecrets are variables every worker pod gets where its template
	// sets none, read from a Secret the executor creates rather than
	// written in the pod's spec: the database URL with its password, the
	// connections' secret key.
	PodSecrets map[string]string
	// Parallelism bounds the worker pods at once.
	Parallelism int
	// Check is how often the row of each tracked try is read, to delete
	// the pod of a try cleared or marked elsewhere.
	Check time.Duration
	// KillGrace is the grace period of a deleted worker pod.
	KillGrace time.Duration
	// OnDone is told of each try's end, with the row it ended with (the
	// scheduler's Report).
	OnDone func(...store.TaskInstance)
}

// Executor runs tries as worker pods; see the package comment.
type Executor struct {
	o        Options
	r        *executor.Runner
	template *corev1.Pod

	cluster   *kube.Cluster
	pods      kube.PodInterface
	namespace string
	secret    string // the Secret holding PodSecrets, once created
	ctx       context.Context

	wg    sync.WaitGroup
	mu    sync.Mutex
	tries map[store.TaskKey]*try
}

// try is one try being tracked.
type try struct {
	key      store.TaskKey
	n        int
	h        Handle
	worker   string // the row's worker when handed over
	hostname string // the row's hostname then: the pod's name once it took the try over
	fresh    bool   // handed over by a claim: the pod is created
	stop     context.CancelCauseFunc
}

// same reports whether t is the try numbered n whose pod handle h names.
// A reschedule-mode sensor's pokes share a try number (a poke spends no
// try) and each has a pod of its own: the number alone would take the
// next poke's pod for the previous one's.
func (t *try) same(n int, h Handle) bool {
	return t.n == n && t.h.Namespace == h.Namespace && t.h.Name == h.Name
}

// ownsRow reports whether ti is still t's try: its number, and a handle
// naming t's pod (a later poke of the same try names another).
func (t *try) ownsRow(ti store.TaskInstance) bool {
	if ti.TryNumber != t.n {
		return false
	}
	h, err := DecodeHandle(ti.Handle)
	return err != nil || t.same(ti.TryNumber, h) // no pod handle: nothing says it is another pod's
}

// New loads the pod template; Start connects.
func New(o Options) (*Executor, error) {
	if o.Parallelism <= 0 {
		o.Parallelism = 32
	}
	if o.Check <= 0 {
		o.Check = 5 * time.Second
	}
	if o.OnDone == nil {
		o.OnDone = func(...store.TaskInstance) {}
	}
	x := &Executor{o: o, r: o.Runner, tries: map[store.TaskKey]*try{}}
	if f := o.Settings.PodTemplateFile; f != "" {
		pod, err := LoadPodTemplate(f)
		if err != nil {
			return nil, err
		}
		x.template = pod
	}
	return x, nil
}

// SetOnDone sets the completion callback (the scheduler is built after us).
func (x *Executor) SetOnDone(f func(...store.TaskInstance)) { x.o.OnDone = f }

// Connect builds the client of the cluster (kubernetes_executor.conn_id
// with its overrides) without calling it; recovery may then delete pods.
func (x *Executor) Connect(ctx context.Context) error {
	s := x.o.Settings
	lookup := func(ctx context.Context, id string) (connection.Connection, error) {
		if x.r.Connections == nil {
			return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		}
		return x.r.Connections.Get(ctx, id)
	}
	settings, err := kube.Resolve(ctx, lookup, s.ConnID)
	if err != nil {
		return fmt.Errorf("kubernetes_executor.conn_id: %w", err)
	}
	if settings, err = settings.Override(kube.Overrides{ConfigFile: s.ConfigFile, Context: s.ClusterContext}); err != nil {
		return fmt.Errorf("kubernetes_executor: %w", err)
	}
	if x.cluster, err = settings.Connect(); err != nil {
		return fmt.Errorf("kubernetes_executor: %w", err)
	}
	x.namespace = s.Namespace
	if x.namespace == "" {
		x.namespace = x.cluster.Namespace
	}
	if err := kube.CheckNamespace(x.namespace); err != nil {
		return fmt.Errorf("kubernetes_executor.namespace: %w", err)
	}
	x.pods = x.cluster.Client.CoreV1().Pods(x.namespace)
	return nil
}

// Start reattaches to the pods of the live tries and deletes the running
// worker pods no live try names. Tries are then tracked until ctx ends;
// their pods run on. Connect must have succeeded.
func (x *Executor) Start(ctx context.Context) error {
	x.ctx = ctx
	if err := x.ensureSecret(ctx); err != nil {
		return fmt.Errorf("kubernetes executor: %w", err)
	}
	if err := x.reattach(ctx); err != nil {
		return fmt.Errorf("kubernetes executor: %w", err)
	}
	return nil
}

// Namespace is where the worker pods go.
func (x *Executor) Namespace() string { return x.namespace }

// ID is the worker id recorded by claims.
func (x *Executor) ID() string { return x.r.WorkerID }

// FreeSlots is parallelism minus the tries tracked.
func (x *Executor) FreeSlots() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.o.Parallelism - len(x.tries)
}

// Claim is the write that hands a ready task to a worker pod: the claim
// of the local executor (running, try counted, this scheduler's worker)
// with the handle naming the pod, chosen now, so the pod is created only
// once the row names it.
func (x *Executor) Claim(u store.TaskUpdate, now time.Time) store.TaskUpdate {
	c := x.r.ClaimUpdate(u.Key, u.From, now)
	name, err := kube.NameFromTaskID(u.Key.DagID+"-"+u.Key.TaskID, true)
	if err != nil {
		name = kube.AddUniqueSuffix("sirocco-worker") // NameFromTaskID falls back to a valid name; never reached
	}
	h := Handle{Kind: HandleKind, Version: handleVersion, Namespace: x.namespace, Name: name}.Encode()
	c.Handle = &h
	return c
}

// SubmitTask creates the worker pod of a try claimed by Claim and tracks
// it, in a goroutine.
func (x *Executor) SubmitTask(ti store.TaskInstance, _ store.DagRun) { x.track(ti, true) }

// Resume tracks the pod of a running try adopted from a dead worker; a
// row without a worker pod handle goes to other (the local executor).
func (x *Executor) Resume(k store.TaskKey, other func(store.TaskKey)) {
	x.wg.Go(func() {
		ti, err := x.r.Store.GetTaskInstance(x.ctx, k)
		if err != nil {
			x.r.Logger.Error("resume a worker pod try: read it", "dag_id", k.DagID, "run_id", k.RunID, "task_id", k.TaskID, "err", err)
			return
		}
		if !IsHandle(ti.Handle) {
			other(k)
			return
		}
		x.track(ti, false)
	})
}

// Kill records a running try as failed (no retry) and deletes its pod.
func (x *Executor) Kill(k store.TaskKey) {
	x.mu.Lock()
	t := x.tries[k]
	x.mu.Unlock()
	if t != nil {
		t.stop(errKilled)
	}
}

// Holds reports whether a try of k is tracked.
func (x *Executor) Holds(k store.TaskKey) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.tries[k] != nil
}

// Wait blocks until every tracking goroutine has stopped.
func (x *Executor) Wait() { x.wg.Wait() }

// errKilled is the cause of a Kill; errCancelled wraps the cause of a try
// changed elsewhere.
var (
	errKilled    = errors.New("killed (run timeout)")
	errCancelled = errors.New("the try was ended elsewhere")
)

// track starts following a try's pod, unless that try is tracked already.
func (x *Executor) track(ti store.TaskInstance, fresh bool) {
	h, err := DecodeHandle(ti.Handle)
	if err != nil {
		x.r.Logger.Error("worker pod try with a bad handle", "dag_id", ti.DagID, "run_id", ti.RunID, "task_id", ti.TaskID, "err", err)
		return
	}
	x.mu.Lock()
	if cur := x.tries[ti.TaskKey]; cur != nil && cur.same(ti.TryNumber, h) {
		x.mu.Unlock()
		return
	}
	ctx, stop := context.WithCancelCause(x.ctx)
	t := &try{key: ti.TaskKey, n: ti.TryNumber, h: h, worker: ti.WorkerID, hostname: ti.Hostname, fresh: fresh, stop: stop}
	x.tries[ti.TaskKey] = t
	x.mu.Unlock()
	x.wg.Go(func() {
		defer stop(nil)
		rows := x.follow(ctx, t)
		// Reported before the try is let go, so the scheduler never takes
		// its row for lost.
		x.o.OnDone(rows...)
		x.mu.Lock()
		if x.tries[t.key] == t {
			delete(x.tries, t.key)
		}
		x.mu.Unlock()
	})
}

// reattach tracks the pod of every live try with a worker pod handle and
// deletes the running worker pods that none names (their try ended or was
// cleared while Sirocco was down). The pods are listed before the tries:
// a pod is created only after its try's handle is stored, so a pod listed
// first is named by the rows read after, unless its try has ended since.
func (x *Executor) reattach(ctx context.Context) error {
	list, err := x.pods.List(ctx, metav1.ListOptions{LabelSelector: WorkerPodSelector})
	if err != nil {
		return fmt.Errorf("list worker pods in %s: %w", x.namespace, err)
	}
	tis, err := x.r.Store.ActiveTaskInstances(ctx)
	if err != nil {
		return fmt.Errorf("list live tries: %w", err)
	}
	named := map[string]bool{}
	for _, ti := range tis {
		if (ti.State != store.StateRunning && ti.State != store.StateRestarting) || !IsHandle(ti.Handle) {
			continue
		}
		h, err := DecodeHandle(ti.Handle)
		if err != nil || h.Namespace != x.namespace {
			continue
		}
		named[h.Name] = true
		x.track(ti, false)
	}
	for i := range list.Items {
		pod := &list.Items[i]
		if named[pod.Name] {
			continue
		}
		x.cleanUpOrphan(ctx, pod)
	}
	return nil
}

// cleanUpOrphan deletes a worker pod that no live try names: one still
// running is work nobody owns; one that ended is deleted as its try's end
// would have (delete_worker_pods), or kept.
func (x *Executor) cleanUpOrphan(ctx context.Context, pod *corev1.Pod) {
	ended := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if ended && !x.deletesEnded(pod) {
		return
	}
	if err := kube.RequestDelete(ctx, x.pods, pod.Name, pod.UID, &x.o.KillGrace); err != nil {
		x.r.Logger.Warn("could not delete a worker pod no try owns", "pod", x.namespace+"/"+pod.Name, "err", err)
		return
	}
	x.r.Logger.Info("deleted a worker pod no live try owns", "pod", x.namespace+"/"+pod.Name, "phase", pod.Status.Phase)
}

// deletesEnded reports whether an ended pod is deleted (delete_worker_pods,
// and delete_worker_pods_on_failure for a failed one).
func (x *Executor) deletesEnded(pod *corev1.Pod) bool {
	s := x.o.Settings
	return s.DeletePods && (pod.Status.Phase == corev1.PodSucceeded || s.DeleteOnFailure)
}

// StopLeft deletes the worker pod of a dead scheduler's try that is not
// resumed (one cleared while it ran), for recovery; a pod already gone is
// no error.
func (x *Executor) StopLeft(ctx context.Context, ti store.TaskInstance) error {
	h, err := DecodeHandle(ti.Handle)
	if err != nil {
		return err
	}
	if x.cluster == nil {
		return errors.New("the kubernetes executor is not connected")
	}
	pods := x.cluster.Client.CoreV1().Pods(h.Namespace)
	if _, err := kube.DeletePod(ctx, pods, h.Name, "", x.o.KillGrace); err != nil {
		return fmt.Errorf("delete worker pod %s: %w", h.where(), err)
	}
	return nil
}

// Parallelism is how many worker pods the executor runs at once.
func (x *Executor) Parallelism() int { return x.o.Parallelism }
