package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

const (
	// saveEvery bounds how often the handle is stored while the pod
	// runs (its UID once created, the log position while the log flows):
	// changes are stored together at most this often, and at the latest
	// this long after the last save. A resume repeats at most the log
	// lines of that last stretch.
	saveEvery = time.Second
	// followAfter is how long after the container started its log is
	// first streamed: the first lines reach the task log at most this
	// late, and a container that ends sooner has its log read once, at
	// its end, with one request instead of two.
	followAfter = time.Second
	// saveTimeout bounds one store write of the handle.
	saveTimeout = 5 * time.Second
	// callTimeout bounds one API call that is not a watch or a stream.
	callTimeout = 30 * time.Second
	// stopMargin is added to the grace to bound a stop.
	stopMargin = 30 * time.Second
	// catchUpTimeout bounds the read of the end of an ended container's
	// log.
	catchUpTimeout = 10 * time.Second
)

// Operator runs one kubernetes_pod task.
type Operator struct{}

// Execute creates the try's pod (or finds the one a lost answer created)
// and tracks it to its end.
func (Operator) Execute(ctx context.Context, t *operator.Task) (operator.Result, error) {
	c, err := readConfig(t.Args)
	if err != nil {
		return operator.Result{}, err
	}
	cl, err := connect(ctx, t, c.connID, c.overrides)
	if err != nil {
		return operator.Result{}, err
	}
	ns := c.namespace
	if ns == "" {
		ns = cl.Namespace
	}
	name, err := podName(c, t.TaskID)
	if err != nil {
		return operator.Result{}, err
	}
	id := tryIdentity{DagID: t.DagID, RunID: t.RunID, TaskID: t.TaskID, Try: t.TryNumber, Map: t.Map}
	r := newRun(t, cl, newHandle(c, cl.Settings.ConnID, ns, name, id))
	fmt.Fprintf(t.Log, "sirocco: %s\n", cl.Settings)
	if c.reattach {
		pod, err := r.findTryPod(ctx)
		if err != nil {
			return operator.Result{}, err
		}
		if pod != nil {
			fmt.Fprintf(t.Log, "sirocco: pod %s/%s of this try already exists (phase %s): following it, not creating another\n",
				pod.Namespace, pod.Name, pod.Status.Phase)
			r.adopt(pod)
			if err := r.saveNow(ctx); err != nil {
				return operator.Result{}, fmt.Errorf("store the handle of the pod found: %w", err)
			}
			return r.track(ctx, pod)
		}
	}
	return r.createAndTrack(ctx, buildPod(c, id, name, ns, t.Env, t.CtxEnv))
}

// podName is the try's pod name: the name field, else the task id, with
// a random suffix unless random_name_suffix is false.
func podName(c config, taskID string) (string, error) {
	if c.name == "" {
		return kube.NameFromTaskID(taskID, c.suffix)
	}
	n, err := kube.PodName(c.name, c.suffix)
	if err != nil {
		return "", fmt.Errorf("field name: %w", err)
	}
	return n, nil
}

// newHandle is the handle of a try about to create its pod.
func newHandle(c config, connID, ns, name string, id tryIdentity) Handle {
	return Handle{
		Kind: HandleKind, Version: handleVersion, ConnID: connID,
		InCluster: c.overrides.InCluster, Context: c.overrides.Context, ConfigFile: c.overrides.ConfigFile,
		Namespace: ns, Name: name, Labels: id.labels(), Container: c.container, OnFinish: c.onFinish,
		GetLogs: c.getLogs, XCom: c.xcom, Skip: c.skip, Reattach: c.reattach, LogEvents: c.logEvents,
		StartupTimeout: int64(c.startupTimeout / time.Second), ScheduleTimeout: int64(c.scheduleTimeout / time.Second),
		GraceSeconds: c.termGrace,
	}
}

// connect resolves the connection, applies the task's overrides and
// builds the client; the client's credentials are masked in the log.
func connect(ctx context.Context, t *operator.Task, connID string, o kube.Overrides) (*kube.Cluster, error) {
	s, err := kube.Resolve(ctx, t.Connection, connID)
	if err != nil {
		return nil, err
	}
	if s, err = s.Override(o); err != nil {
		return nil, err
	}
	cl, err := t.Kube.Connect(s)
	if err != nil {
		return nil, err
	}
	if t.Mask != nil {
		for _, secret := range cl.Secrets() {
			t.Mask(secret)
		}
	}
	return cl, nil
}

// run is one try's pod, from its creation or its resume to its end.
type run struct {
	t    *operator.Task
	cl   *kube.Cluster
	pods kube.PodInterface

	mu         sync.Mutex // h and savedAt: the log follower updates the position
	h          Handle
	savedAt    time.Time
	saveTimer  *time.Timer // a trailing save of what changed since the last one
	noTrailing bool        // the try is ending: no more trailing saves
	trailing   sync.WaitGroup
	warned     bool
	saveMu     sync.Mutex // one save at a time, each of the latest handle

	logs *kube.LogFollower

	noted string // the last progress line written
}

func newRun(t *operator.Task, cl *kube.Cluster, h Handle) *run {
	r := &run{t: t, cl: cl, pods: cl.Client.CoreV1().Pods(h.Namespace), h: h}
	r.logs = &kube.LogFollower{Pods: r.pods, Pod: h.Name, Container: h.Container, Out: t.Log, Delay: followAfter,
		OnRetry: r.logRetry("read the container's log of pod"), OnProgress: r.logProgress}
	r.logs.SetPosition(h.Log)
	return r
}

// handle returns a copy of the handle.
func (r *run) handle() Handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h
}

// update changes the handle under the lock.
func (r *run) update(f func(h *Handle)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.h)
}

// adopt makes pod the try's pod (found by the try's labels).
func (r *run) adopt(pod *corev1.Pod) {
	r.update(func(h *Handle) { h.Name, h.UID = pod.Name, string(pod.UID) })
	r.logs.Pod = pod.Name
}

// saveNow stores the handle, even while the try is being stopped.
func (r *run) saveNow(ctx context.Context) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	h := r.handle()
	h.Log = r.logs.Position()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if r.t.SaveHandle == nil {
		return errors.New("this try cannot store a handle")
	}
	if err := r.t.SaveHandle(sctx, h.encode()); err != nil {
		return err
	}
	r.mu.Lock()
	r.savedAt = time.Now()
	r.mu.Unlock()
	return nil
}

// saveOrWarn stores the handle; a failure is said once in the log.
func (r *run) saveOrWarn(ctx context.Context) {
	if err := r.saveNow(ctx); err != nil {
		r.mu.Lock()
		warned := r.warned
		r.warned = true
		r.mu.Unlock()
		if !warned {
			fmt.Fprintf(r.t.Log, "sirocco: could not store the pod's handle (%v); a resume may write some log lines again\n", err)
		}
	}
}

// logProgress is the follower's callback: the position is stored with
// the handle's next save (saveSoon).
func (r *run) logProgress(kube.LogPosition) { r.saveSoon() }

// saveSoon stores what changed in the handle (the pod's UID, the log
// position): now if the last save is saveEvery old, else by a trailing
// save saveEvery after it, unless the try's own end or detach stores it
// first. A pod that ends within saveEvery of its create is stored twice
// in all: its name before the create, its end (with the UID) after it.
func (r *run) saveSoon() {
	r.mu.Lock()
	since := time.Since(r.savedAt)
	due := since >= saveEvery && !r.noTrailing
	if !due && r.saveTimer == nil && !r.noTrailing {
		r.saveTimer = time.AfterFunc(saveEvery-since, r.trailingSave)
	}
	r.mu.Unlock()
	if due {
		r.saveOrWarn(context.Background())
	}
}

// trailingSave is saveSoon's timer: it stores the handle unless the try
// is ending (stopSaving waits for one under way).
func (r *run) trailingSave() {
	r.mu.Lock()
	r.saveTimer = nil
	stopped := r.noTrailing
	if !stopped {
		r.trailing.Add(1)
	}
	r.mu.Unlock()
	if !stopped {
		defer r.trailing.Done()
		r.saveOrWarn(context.Background())
	}
}

// stopSaving cancels a pending trailing save and waits for one under
// way: the try's own saves follow, and none may come after its end.
func (r *run) stopSaving() {
	r.mu.Lock()
	r.noTrailing = true
	if r.saveTimer != nil {
		r.saveTimer.Stop()
		r.saveTimer = nil
	}
	r.mu.Unlock()
	r.trailing.Wait()
}

func (r *run) logRetry(what string) func(error, time.Duration) {
	return func(err error, wait time.Duration) {
		fmt.Fprintf(r.t.Log, "sirocco: could not %s %s (%v); the pod runs on, trying again in %s\n",
			what, r.handle().where(), err, wait)
	}
}

// ours reports whether pod carries this try's labels.
func (r *run) ours(pod *corev1.Pod) bool {
	for k, v := range r.handle().Labels {
		if pod.Labels[k] != v {
			return false
		}
	}
	return true
}

// findTryPod lists the pods carrying the try's labels: none, one, or an
// error for more (which one is the try's is then a guess).
func (r *run) findTryPod(ctx context.Context) (*corev1.Pod, error) {
	pods, err := r.listTryPods(ctx)
	if err != nil || len(pods) == 0 {
		return nil, err
	}
	if len(pods) > 1 {
		names := make([]string, len(pods))
		for i, p := range pods {
			names[i] = p.Name
		}
		return nil, fmt.Errorf("%d pods carry the labels of this try (%v): delete the extra ones", len(pods), names)
	}
	return &pods[0], nil
}

func (r *run) listTryPods(ctx context.Context) ([]corev1.Pod, error) {
	h := r.handle()
	var list *corev1.PodList
	err := r.retryCall(ctx, "list the pods of this try", func(ctx context.Context) error {
		var err error
		list, err = r.pods.List(ctx, metav1.ListOptions{LabelSelector: kube.Selector(h.Labels)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// retryCall runs one API call, again while the apiserver cannot be
// reached or is busy, each attempt bounded by callTimeout.
func (r *run) retryCall(ctx context.Context, what string, call func(context.Context) error) error {
	var wait time.Duration
	var reported time.Time
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := call(cctx)
		cancel()
		if err == nil {
			return nil
		}
		var final *finalError
		if errors.As(err, &final) {
			return final.err
		}
		if ctx.Err() != nil || !kube.Retriable(err) {
			return fmt.Errorf("%s in namespace %s: %w", what, r.handle().Namespace, err)
		}
		wait = min(max(2*wait, 100*time.Millisecond), 5*time.Second)
		if time.Since(reported) > stopMargin {
			reported = time.Now()
			fmt.Fprintf(r.t.Log, "sirocco: could not %s (%v); trying again in %s\n", what, err, wait)
		}
		if !sleep(ctx, wait) {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// createAndTrack stores the handle naming the pod, creates the pod, and
// tracks it.
func (r *run) createAndTrack(ctx context.Context, pod *corev1.Pod) (operator.Result, error) {
	// The name is stored before the create: if Sirocco dies before the
	// answer, the restart finds the pod by it instead of creating another.
	r.update(func(h *Handle) { h.CreateSent = time.Now().UTC() })
	if err := r.saveNow(ctx); err != nil {
		return operator.Result{}, fmt.Errorf("store the handle before creating the pod: %w", err)
	}
	created, err := r.create(ctx, pod)
	if err != nil {
		if detached(ctx) {
			return operator.Result{}, context.Cause(ctx)
		}
		if ctx.Err() != nil {
			// The create may have reached the apiserver: delete by name.
			return operator.Result{}, errors.Join(context.Cause(ctx), r.stop(ctx, context.Cause(ctx)))
		}
		return operator.Result{}, err
	}
	// The UID goes with the next save (at the latest saveEvery from
	// now, else the end's): until then a restart finds the pod by the
	// stored name and the try's labels (locate).
	r.update(func(h *Handle) { h.UID = string(created.UID) })
	r.saveSoon()
	fmt.Fprintf(r.t.Log, "sirocco: pod %s/%s created (uid %s), image %s\n", created.Namespace, created.Name, created.UID, pod.Spec.Containers[0].Image)
	return r.track(ctx, created)
}

// create creates pod; a lost answer or an AlreadyExists finds the pod by
// its name (only if it carries this try's labels): there is never a
// second pod for the try.
func (r *run) create(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	var out *corev1.Pod
	lost := false
	err := r.retryCall(ctx, "create pod "+pod.Name, func(ctx context.Context) error {
		if lost {
			// The last create's answer was lost: it may have created it.
			p, err := r.pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err == nil {
				return r.claim(p, &out)
			}
			if !apierrors.IsNotFound(err) {
				return err
			}
		}
		p, err := r.pods.Create(ctx, pod, metav1.CreateOptions{})
		if err == nil {
			out = p
			return nil
		}
		if apierrors.IsAlreadyExists(err) {
			p, gerr := r.pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				lost = true
				return gerr
			}
			return r.claim(p, &out)
		}
		lost = kube.Retriable(err)
		return err
	})
	return out, err
}

// finalError ends retryCall at once: an answer that another try would
// not change.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }

// claim accepts an existing pod of the try's name if it is the try's.
func (r *run) claim(p *corev1.Pod, out **corev1.Pod) error {
	if !r.ours(p) {
		return &finalError{fmt.Errorf("a pod named %s already exists in %s and it is not this try's (labels %v)", p.Name, p.Namespace, p.Labels)}
	}
	fmt.Fprintf(r.t.Log, "sirocco: pod %s/%s was already created by this try: following it, not creating another\n", p.Namespace, p.Name)
	*out = p
	return nil
}

// track follows the pod to its end: see the package comment.
func (r *run) track(ctx context.Context, pod *corev1.Pod) (operator.Result, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer r.stopLogs(false)
	h := r.handle()
	tr := &kube.Tracker{Pods: r.pods, Name: h.Name, UID: types.UID(h.UID), OnRetry: r.logRetry("watch pod")}
	updates := tr.Watch(wctx, pod)
	var timer *time.Timer
	var timerC <-chan time.Time
	var why string
	var last *corev1.Pod
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return r.interrupted(ctx)
		case <-timerC:
			cancel()
			return r.giveUp(ctx, last, why)
		case u, ok := <-updates:
			if !ok {
				updates = nil // the context ended: the case above follows
				continue
			}
			if u.Gone {
				cancel()
				return r.gone(ctx, u.Pod, last)
			}
			last = u.Pod
			if r.handle().UID == "" {
				r.update(func(h *Handle) { h.UID = string(u.Pod.UID) })
				r.saveSoon()
			}
			v := assess(u.Pod, h.Container)
			r.note(u.Pod, v)
			if v.logsReady && h.GetLogs {
				r.logs.Start(wctx)
			}
			if v.ended || v.fatal != "" {
				// The watch ends first: the end's delete would only send
				// it more events to decode.
				cancel()
				if v.ended {
					return r.ended(ctx, u.Pod, v)
				}
				return r.giveUp(ctx, u.Pod, v.fatal)
			}
			var at time.Time
			at, why = deadline(v, u.Pod.CreationTimestamp.Time, r.timeouts())
			if timer != nil {
				timer.Stop()
				timer, timerC = nil, nil
			}
			if !at.IsZero() {
				timer = time.NewTimer(time.Until(at))
				timerC = timer.C
			}
		}
	}
}

func (r *run) timeouts() timeouts {
	h := r.handle()
	return timeouts{schedule: time.Duration(h.ScheduleTimeout) * time.Second, startup: time.Duration(h.StartupTimeout) * time.Second}
}

// note writes a line when the pod's phase, node or waiting reason
// changed: what a user watching the log wants to know while it starts.
func (r *run) note(pod *corev1.Pod, v view) {
	line := fmt.Sprintf("pod %s/%s is %s", pod.Namespace, pod.Name, v.phase)
	if pod.Spec.NodeName != "" {
		line += " on node " + pod.Spec.NodeName
	}
	switch {
	case v.waiting != "":
		line += "; " + v.waiting
	case !v.scheduled && v.unschedulable != "":
		line += "; not scheduled: " + v.unschedulable
	}
	if line != r.noted && !v.ended {
		r.noted = line
		fmt.Fprintf(r.t.Log, "sirocco: %s\n", line)
	}
}

// stopLogs stops the follower and, with catchUp, writes what the log
// holds after it (the end of an ended container's log); no trailing save
// follows: the caller's save stores the position.
func (r *run) stopLogs(catchUp bool) {
	err := r.logs.Stop(catchUp, catchUpTimeout)
	r.stopSaving()
	if err != nil {
		fmt.Fprintf(r.t.Log, "sirocco: could not read the end of the container's log: %v\n", err)
	}
}
