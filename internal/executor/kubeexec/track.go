package kubeexec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

const (
	// callTimeout bounds one API call that is not a watch or a stream.
	callTimeout = 30 * time.Second
	// writeTimeout bounds one store write of an end.
	writeTimeout = 10 * time.Second
	// catchUpTimeout bounds the read of the end of an ended container's
	// log.
	catchUpTimeout = 10 * time.Second
)

// errPodGone is the end of a pod deleted by someone else.
var errPodGone = errors.New("the worker pod was deleted by someone else")

// follow runs one try's pod to its end and returns the row it ended with
// (none when Sirocco stops first: the pod runs on).
func (x *Executor) follow(ctx context.Context, t *try) []store.TaskInstance {
	path := tasklog.MapPath(x.r.LogsDir, t.key.DagID, t.key.RunID, t.key.TaskID, t.key.MapIndex(), t.n)
	lw, err := tasklog.Create(path)
	if err != nil {
		x.r.Logger.Error("open the log of a worker pod try", "path", path, "err", err)
		return nil
	}
	defer lw.Close()
	f := &podFollow{x: x, t: t, lw: lw, logPath: path}
	defer f.close()
	pod, err := f.ensurePod(ctx)
	if ctx.Err() != nil {
		return f.interrupted(ctx, pod)
	}
	if err != nil {
		return f.settle(err.Error())
	}
	return f.watch(ctx, pod)
}

// podFollow is the state of one try's tracking.
type podFollow struct {
	x       *Executor
	t       *try
	lw      *tasklog.Writer
	logPath string

	logs     *kube.LogFollower
	logsDone chan struct{}
	stopLogs context.CancelFunc
	raw      *os.File // the pod's lines, appended as they are (the pod stamped them)

	posMu    sync.Mutex // the position's saves: the follower's goroutine, a timer, ours
	pos      kube.LogPosition
	flowing  bool // the follower runs: saves are spaced
	savedAt  time.Time
	posTimer *time.Timer
	noted    string
	// cleared: the try was cleared, or ended elsewhere while its pod ran
	// (the pod exited ExitEndedElsewhere): its pod is deleted whatever
	// delete_worker_pods says.
	cleared bool
}

func (f *podFollow) close() {
	f.endLogs(false)
	if f.raw != nil {
		_ = f.raw.Close()
	}
}

// ensurePod creates the try's pod (a claim) or finds it (a restart). A
// handle stored before the create answered, whose pod does not exist, is
// created now under the same name; one whose pod existed is gone.
func (f *podFollow) ensurePod(ctx context.Context) (*corev1.Pod, error) {
	x, t := f.x, f.t
	if !t.fresh {
		pod, err := f.get(ctx, t.h.Name)
		if err != nil {
			return nil, fmt.Errorf("read worker pod %s: %w", t.h.where(), err)
		}
		if pod != nil {
			f.lw.Printf("sirocco: reattaching to worker pod %s (phase %s)", t.h.where(), pod.Status.Phase)
			return pod, nil
		}
		if t.h.Created || t.hostname == t.h.Name {
			return nil, fmt.Errorf("%w while Sirocco was down (pod %s)", errPodGone, t.h.where())
		}
		f.lw.Printf("sirocco: worker pod %s was never created (Sirocco stopped before its create was answered): creating it now", t.h.where())
	}
	spec, err := x.podOf(t)
	if err != nil {
		return nil, err
	}
	pod, err := f.create(ctx, spec)
	if err != nil {
		return nil, err
	}
	f.lw.Printf("sirocco: worker pod %s created (uid %s), image %s, running: %s",
		t.h.where(), pod.UID, workerContainer(spec).Image, describeCommand(workerContainer(spec).Command))
	f.markCreated(ctx)
	return pod, nil
}

// podOf builds the try's pod from the template, the settings and the
// task's executor_config.
func (x *Executor) podOf(t *try) (*corev1.Pod, error) {
	var override ExecutorConfig
	if task := x.task(t.key); task != nil && len(task.ExecutorConfig) > 0 {
		var err error
		if override, err = ParseExecutorConfig(task.ExecutorConfig); err != nil {
			return nil, err
		}
	}
	env := map[string]string{"SIROCCO_POD_NAME": t.h.Name, "SIROCCO_POD_NAMESPACE": t.h.Namespace}
	for k, v := range x.o.PodEnv {
		env[k] = v
	}
	p := podParams{handle: t.h, key: t.key, try: t.n, image: x.o.Settings.Image, env: env, override: override}
	if x.secret != "" {
		p.secret, p.secretEnv = x.secret, slices.Collect(maps.Keys(x.secretEnv()))
	}
	return buildPod(x.template, p)
}

// create creates the pod; a lost answer or an AlreadyExists finds it by
// name (only if it carries the try's labels): never a second pod.
func (f *podFollow) create(ctx context.Context, spec *corev1.Pod) (*corev1.Pod, error) {
	pods := f.x.pods
	var out *corev1.Pod
	lost := false
	err := retry(ctx, func(ctx context.Context) error {
		if lost {
			p, err := pods.Get(ctx, spec.Name, metav1.GetOptions{})
			if err == nil {
				return f.claim(p, spec, &out)
			}
			if !apierrors.IsNotFound(err) {
				return err
			}
		}
		p, err := pods.Create(ctx, spec, metav1.CreateOptions{})
		switch {
		case err == nil:
			out = p
			return nil
		case apierrors.IsAlreadyExists(err):
			p, gerr := pods.Get(ctx, spec.Name, metav1.GetOptions{})
			if gerr != nil {
				lost = true
				return gerr
			}
			return f.claim(p, spec, &out)
		}
		lost = kube.Retriable(err)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create worker pod %s: %w", spec.Name, err)
	}
	return out, nil
}

// claim accepts an existing pod of the try's name if it is the try's.
func (f *podFollow) claim(p, spec *corev1.Pod, out **corev1.Pod) error {
	for k, v := range spec.Labels {
		if p.Labels[k] != v {
			return permanent{fmt.Errorf("a pod named %s already exists in %s and it is not this try's (labels %v)", p.Name, p.Namespace, p.Labels)}
		}
	}
	f.lw.Printf("sirocco: worker pod %s/%s was already created for this try: following it, not creating another", p.Namespace, p.Name)
	*out = p
	return nil
}

// markCreated stores that the create was answered, while the pod has not
// taken the try over (then its worker owns the row and its name on the
// row says the same).
func (f *podFollow) markCreated(ctx context.Context) {
	t := f.t
	h := t.h
	h.Created = true
	b := h.Encode()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if _, err := f.x.r.Store.UpdateTask(wctx, store.TaskUpdate{
		Key: t.key, From: []store.TaskState{store.StateRunning}, FromWorker: &t.worker, FromTry: &t.n,
		To: store.StateRunning, Handle: &b,
	}); err != nil {
		f.x.r.Logger.Warn("could not store that the worker pod was created", "pod", h.where(), "err", err)
	}
}

// get reads a pod; nil when it does not exist.
func (f *podFollow) get(ctx context.Context, name string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := retry(ctx, func(ctx context.Context) error {
		p, err := f.x.pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		pod = p
		return err
	})
	return pod, err
}

// watch follows the pod with a resumable watch until it ends, is deleted,
// or the try is stopped (kill, a change elsewhere) or Sirocco stops.
func (f *podFollow) watch(ctx context.Context, pod *corev1.Pod) []store.TaskInstance {
	tr := &kube.Tracker{Pods: f.x.pods, Name: pod.Name, UID: pod.UID, OnRetry: f.retrying("watch worker pod")}
	updates := tr.Watch(ctx, pod)
	check := time.NewTicker(f.x.o.Check)
	defer check.Stop()
	var pending, linger *time.Timer
	var pendingC, lingerC <-chan time.Time
	defer func() {
		for _, t := range []*time.Timer{pending, linger} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return f.interrupted(ctx, pod)
		case <-pendingC:
			return f.giveUp(pod, fmt.Sprintf("it did not start within worker_pods_pending_timeout (%s)%s",
				f.x.o.Settings.PendingTimeout, f.startupReason(pod)))
		case <-check.C:
			if f.checkRow(ctx) && lingerC == nil {
				linger = time.NewTimer(f.lingerFor())
				lingerC = linger.C
			}
		case <-lingerC:
			f.t.stop(fmt.Errorf("%w, and worker pod %s did not end within %s", errCancelled, f.t.h.where(), f.lingerFor()))
		case u, ok := <-updates:
			if !ok {
				updates = nil // ctx ended: the case above follows
				continue
			}
			if u.Gone {
				f.endLogs(false)
				return f.settle(fmt.Sprintf("%v (pod %s)", errPodGone, f.t.h.where()))
			}
			pod = u.Pod
			v := assess(pod)
			f.note(pod, v)
			if v.started {
				f.startLogs(ctx)
			}
			switch {
			case v.ended:
				f.cleared = f.cleared || v.elsewhere
				f.endLogs(true)
				rows := f.settle(v.end)
				f.cleanUp(pod)
				return rows
			case v.fatal != "":
				return f.giveUp(pod, v.fatal)
			case pod.Status.Phase == corev1.PodPending && pending == nil && f.x.o.Settings.PendingTimeout > 0:
				pending = time.NewTimer(time.Until(pod.CreationTimestamp.Add(f.x.o.Settings.PendingTimeout)))
				pendingC = pending.C
			case pod.Status.Phase != corev1.PodPending && pending != nil:
				pending.Stop()
				pending, pendingC = nil, nil
			}
		}
	}
}

// interrupted ends the tracking when ctx ended: Sirocco stops (the pod
// runs on, tracked again at the next start), the try was killed (its
// failure is recorded first, then the pod deleted) or ended elsewhere
// (the pod deleted, a cleared try handed back).
func (f *podFollow) interrupted(ctx context.Context, pod *corev1.Pod) []store.TaskInstance {
	cause := context.Cause(ctx)
	if !errors.Is(cause, errKilled) && !errors.Is(cause, errCancelled) {
		f.lw.Printf("sirocco: Sirocco is stopping; worker pod %s runs on and is tracked again at the next start", f.t.h.where())
		return nil
	}
	f.endLogs(false)
	var rows []store.TaskInstance
	if errors.Is(cause, errKilled) {
		rows = f.recordKilled()
	}
	f.deletePod(pod, cause.Error())
	return append(rows, f.settle(cause.Error())...)
}

// giveUp deletes a pod that will not run the try and settles the try.
func (f *podFollow) giveUp(pod *corev1.Pod, why string) []store.TaskInstance {
	f.endLogs(false)
	f.deletePod(pod, why)
	return f.settle(fmt.Sprintf("worker pod %s: %s", f.t.h.where(), why))
}

// checkRow looks at the try's row. When it is no longer this try running
// (the pod recorded its outcome, or it was marked or cleared elsewhere,
// and maybe already handed out again as the next try), a pod whose
// container runs ends by itself (its heartbeat stops what it runs, a
// try not its own is refused) and its last lines are copied as it does:
// it gets linger to do so before it is deleted; a pod not started is
// deleted at once. linger reports the former.
func (f *podFollow) checkRow(ctx context.Context) (linger bool) {
	ti, err := f.x.r.Store.GetTaskInstance(ctx, f.t.key)
	if err != nil {
		return false // transient: the next check looks again
	}
	h := f.t.h
	ownedByPod := ti.Hostname == h.Name
	switch {
	case ti.State != store.StateRunning || !f.t.ownsRow(ti):
		if f.logs != nil {
			return true
		}
		f.t.stop(fmt.Errorf("%w: the task instance is now %q (try %d)", errCancelled, ti.State, ti.TryNumber))
	case ownedByPod && ti.WorkerID != PodWorkerID(h.Namespace, h.Name):
		// The pod took the try over, then stopped heartbeating and the
		// scheduler adopted the try: whatever the pod still does cannot
		// record an outcome.
		f.t.stop(fmt.Errorf("%w: the worker pod stopped heartbeating (zombie_threshold)", errCancelled))
	}
	return false
}

// lingerFor is how long a pod whose try ended gets to end by itself: its
// heartbeat notices a change elsewhere, then its task gets kill_grace.
func (f *podFollow) lingerFor() time.Duration { return 2*f.x.o.Check + f.x.o.KillGrace + 5*time.Second }

// recordKilled records a killed try as failed before its pod is deleted,
// so that the pod's own end (it is told to stop) is not taken for a
// shutdown to run again.
func (f *podFollow) recordKilled() []store.TaskInstance {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	now := f.x.r.Clock.Now()
	w, err := f.x.r.Store.UpdateTaskRow(ctx, store.TaskUpdate{
		Key: f.t.key, From: []store.TaskState{store.StateRunning}, FromTry: &f.t.n, To: store.StateFailed, EndDate: &now,
	})
	if err != nil {
		f.lw.Printf("sirocco: could not record the killed try: %v", err)
		return nil
	}
	if !w.OK {
		return nil
	}
	f.lw.Printf("sirocco: try %d killed (run timeout): failed; deleting its worker pod", f.t.n)
	return []store.TaskInstance{w.Row}
}

// deletePod deletes the pod with grace, then forced, bounded.
func (f *podFollow) deletePod(pod *corev1.Pod, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), f.x.o.KillGrace+2*callTimeout)
	defer cancel()
	outcome, err := kube.DeletePod(ctx, f.x.pods, pod.Name, pod.UID, f.x.o.KillGrace)
	if err != nil {
		f.lw.Printf("sirocco: could not delete worker pod %s (%s): %v; it may still run", f.t.h.where(), why, err)
		return
	}
	f.lw.Printf("sirocco: worker pod %s deleted (%s): %s", f.t.h.where(), why, outcome)
}

// cleanUp deletes an ended pod as delete_worker_pods says, and the pod
// of a cleared try in any case.
func (f *podFollow) cleanUp(pod *corev1.Pod) {
	if !f.cleared && !f.x.deletesEnded(pod) {
		f.lw.Printf("sirocco: worker pod %s is kept (%s)", f.t.h.where(), pod.Status.Phase)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := kube.RequestDelete(ctx, f.x.pods, pod.Name, pod.UID, nil); err != nil {
		f.lw.Printf("sirocco: could not delete ended worker pod %s: %v", f.t.h.where(), err)
	}
}

// retrying reports an unreachable apiserver in the try's log.
func (f *podFollow) retrying(what string) func(error, time.Duration) {
	return func(err error, wait time.Duration) {
		f.lw.Printf("sirocco: could not %s %s (%v); the pod runs on, trying again in %s", what, f.t.h.where(), err, wait)
	}
}

// retry runs one API call, again while the apiserver cannot be reached
// or is busy, each attempt bounded by callTimeout.
func retry(ctx context.Context, call func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := call(cctx)
		cancel()
		var perm permanent
		if err == nil || ctx.Err() != nil || errors.As(err, &perm) || !kube.Retriable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// permanent is an error no retry changes.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// describeCommand shows argv for the log.
func describeCommand(argv []string) string {
	out := ""
	for i, a := range argv {
		if i > 0 {
			out += " "
		}
		out += strconv.Quote(a)
	}
	return out
}
