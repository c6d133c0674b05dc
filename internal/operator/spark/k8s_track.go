package spark

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// ErrDriverPodGone is the cause of a try whose driver pod was deleted by
// someone else before it ended.
var ErrDriverPodGone = errors.New("driver pod deleted")

// defaultDriverContainer is the name Spark gives the driver's container.
const defaultDriverContainer = "spark-kubernetes-driver"

const (
	// logSaveEvery bounds how often the driver log's position is stored
	// while the log flows.
	logSaveEvery = time.Second
	// kubeCallTimeout bounds one API call that is not a watch or a stream.
	kubeCallTimeout = 30 * time.Second
	// catchUpTimeout bounds the read of the end of an ended driver's log.
	catchUpTimeout = 10 * time.Second
)

// pullFailures are the waiting reasons that mean the driver's image will
// not be pulled without a change (as the kubernetes_pod operator).
var pullFailures = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}

// driverPod is the driver pod of one try: its submission (handle and
// stores), the API it lives in, and the follower of its log.
type driverPod struct {
	r         *submission
	t         *operator.Task
	pods      kube.PodInterface
	ns, name  string
	container string // the driver container's name, if the task set one
	legacy    bool   // a handle from before version 4: the pod has no labels of the try

	logs *kube.LogFollower

	mu      sync.Mutex // savedAt, later: the log follower stores the position
	savedAt time.Time
	later   *time.Timer // a save of the position due, once lines stopped
	noted   string      // the last progress line written
}

func newDriverPod(r *submission, cl *kube.Cluster, container string) *driverPod {
	h := r.handle()
	d := &driverPod{r: r, t: r.t, pods: cl.Client.CoreV1().Pods(h.Kube.Namespace), ns: h.Kube.Namespace, name: h.DriverPod, container: container}
	d.logs = &kube.LogFollower{Pods: d.pods, Pod: d.name, Out: d.t.Log, OnProgress: d.logProgress,
		OnRetry: d.retryNote("read the driver's log")}
	d.logs.SetPosition(h.Kube.Log)
	return d
}

func (d *driverPod) where() string { return d.ns + "/" + d.name }

// save stores the handle with the log's position; a cancel does not cut
// it short (submission.save).
func (d *driverPod) save(ctx context.Context) error {
	pos := d.logs.Position()
	d.r.update(func(h *Handle) { h.Kube.Log = pos })
	err := d.r.save(ctx)
	if err == nil {
		d.mu.Lock()
		d.savedAt = time.Now()
		d.mu.Unlock()
	}
	return err
}

// saveOrSay stores the handle; a failure is said in the log.
func (d *driverPod) saveOrSay(ctx context.Context) {
	if err := d.save(ctx); err != nil {
		fmt.Fprintf(d.t.Log, "sirocco: store handle: %v\n", err)
	}
}

// logProgress stores the log's position at most every logSaveEvery, and
// at the latest logSaveEvery after the last line: a Sirocco killed once
// the driver went quiet repeats no line after its restart.
func (d *driverPod) logProgress(kube.LogPosition) {
	d.mu.Lock()
	wait := logSaveEvery - time.Since(d.savedAt)
	if wait > 0 {
		if d.later == nil {
			d.later = time.AfterFunc(wait, func() {
				d.mu.Lock()
				d.later = nil
				d.mu.Unlock()
				d.saveOrSay(context.Background())
			})
		}
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.saveOrSay(context.Background())
}

// cancelLaterSave drops a pending save of the position (the caller stores
// the handle itself).
func (d *driverPod) cancelLaterSave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.later != nil && d.later.Stop() {
		d.later = nil
	}
}

func (d *driverPod) retryNote(what string) func(error, time.Duration) {
	return func(err error, wait time.Duration) {
		fmt.Fprintf(d.t.Log, "sirocco: could not %s of pod %s (%v); the driver runs on, trying again in %s\n", what, d.where(), err, wait)
	}
}

// ours reports whether pod is the try's driver: the pod of the stored
// UID; else one with Sirocco's labels of this try (only the marker when
// the try is unknown, as for a Stop); else, for a handle from before
// version 4, the pod of the name Spark gave it.
func (d *driverPod) ours(pod *corev1.Pod) bool {
	if uid := d.r.handle().Kube.UID; d.legacy || uid != "" && types.UID(uid) == pod.UID {
		return true
	}
	if d.t.DagID == "" {
		return pod.Labels[kube.LabelManagedBy] == kube.ManagedBy
	}
	for k, v := range driverLabels(d.t) {
		if pod.Labels[k] != v {
			return false
		}
	}
	return true
}

// get reads the pod of the handle's name (and UID, once known): nil when
// there is none. Calls are tried again while the apiserver cannot be
// reached.
func (d *driverPod) get(ctx context.Context) (*corev1.Pod, error) {
	uid := d.r.handle().Kube.UID
	var pod *corev1.Pod
	err := d.retryCall(ctx, "read pod "+d.where(), func(ctx context.Context) error {
		p, err := d.pods.Get(ctx, d.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		if uid == "" || p.UID == types.UID(uid) {
			pod = p
		}
		return nil
	})
	return pod, err
}

// retryCall runs one API call, again while the apiserver cannot be
// reached or is busy, each attempt bounded by kubeCallTimeout.
func (d *driverPod) retryCall(ctx context.Context, what string, call func(context.Context) error) error {
	wait := 100 * time.Millisecond
	var reported time.Time
	for {
		cctx, cancel := context.WithTimeout(ctx, kubeCallTimeout)
		err := call(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !kube.Retriable(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if time.Since(reported) > kubeCallTimeout {
			reported = time.Now()
			fmt.Fprintf(d.t.Log, "sirocco: could not %s (%v); trying again in %s\n", what, err, wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// submit stores the handle naming the pod, runs spark-submit unless the
// pod exists already (then it is followed: the try was submitted before a
// restart), and tracks the pod. cleanup removes spark-submit's
// credentials once it ended.
func (d *driverPod) submit(ctx context.Context, argv []string, env map[string]string, cleanup func()) (operator.Result, error) {
	defer cleanup()
	t := d.t
	// Stored before spark-submit runs: a restart finds the pod by it.
	if err := d.save(ctx); err != nil {
		return operator.Result{}, fmt.Errorf("store the handle before running spark-submit: %w", err)
	}
	pod, err := d.get(ctx)
	if err != nil {
		return operator.Result{}, err
	}
	if pod != nil {
		if !d.ours(pod) {
			return operator.Result{}, fmt.Errorf("a pod named %s already exists and it is not this try's (labels %v)", d.where(), pod.Labels)
		}
		fmt.Fprintf(t.Log, "sirocco: driver pod %s of this try already exists (phase %s): following it, not submitting again\n", d.where(), pod.Status.Phase)
		cleanup()
		return d.track(ctx, pod)
	}
	fmt.Fprintf(t.Log, "sirocco: %s\n", strings.Join(argv, " "))
	runErr := process.Run(ctx, process.Spec{
		Argv: argv, Dir: t.DagDir, Env: process.Environ(env, t.CtxEnv, true), Stdout: t.Log, Stderr: t.Log,
		SaveHandle: func(ctx context.Context, b []byte) error {
			ph, err := process.DecodeHandle(b)
			if err != nil {
				return err
			}
			d.r.update(func(h *Handle) { h.Process = &ph })
			return d.save(ctx)
		},
	})
	cleanup()
	d.r.update(func(h *Handle) { h.Process = nil }) // it has exited
	switch {
	case ctx.Err() != nil && detached(ctx):
		d.saveOrSay(ctx)
		fmt.Fprintf(t.Log, "sirocco: spark-submit stopped (%v); a restart follows driver pod %s if it was created\n", context.Cause(ctx), d.where())
		return operator.Result{}, context.Cause(ctx)
	case ctx.Err() != nil:
		// It may have created the pod before it was stopped.
		return operator.Result{}, errors.Join(context.Cause(ctx), d.stop(ctx, context.Cause(ctx)))
	case runErr != nil:
		// Spark deletes a pod whose other resources failed; make sure.
		return operator.Result{}, errors.Join(fmt.Errorf("spark-submit: %w", runErr), d.stop(ctx, errors.New("spark-submit failed")))
	}
	if pod, err = d.get(ctx); err != nil {
		return operator.Result{}, err
	}
	if pod == nil {
		return operator.Result{}, fmt.Errorf("%w: spark-submit created driver pod %s, which was deleted before it could be followed", ErrDriverPodGone, d.where())
	}
	return d.track(ctx, pod)
}

// adopt records what the pod tells of the try: its UID and the
// application id Spark gave it (the spark-app-selector label).
func (d *driverPod) adopt(ctx context.Context, pod *corev1.Pod) {
	h := d.r.handle()
	app := pod.Labels[labelAppSelector]
	if h.Kube.UID == string(pod.UID) && h.AppID == app {
		return
	}
	d.r.update(func(h *Handle) { h.Kube.UID, h.AppID = string(pod.UID), app })
	fmt.Fprintf(d.t.Log, "sirocco: driver pod %s (uid %s), application %s\n", d.where(), pod.UID, app)
	d.saveOrSay(ctx)
}

// track follows the pod to its end through a watch: phase and driver exit
// code decide; the driver's log is streamed into the task log. A cancel
// deletes the pod; a detach leaves it running for the restart.
func (d *driverPod) track(ctx context.Context, pod *corev1.Pod) (operator.Result, error) {
	d.adopt(ctx, pod)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer d.stopLogs(false)
	tr := &kube.Tracker{Pods: d.pods, Name: d.name, UID: pod.UID, OnRetry: d.retryNote("watch")}
	updates := tr.Watch(wctx, pod)
	var last *corev1.Pod
	for {
		select {
		case <-ctx.Done():
			return d.interrupted(ctx)
		case u, ok := <-updates:
			if !ok {
				updates = nil // ctx ended: the case above follows
				continue
			}
			if u.Gone {
				return d.gone(ctx, u.Pod, last)
			}
			last = u.Pod
			v := d.assess(u.Pod)
			d.note(u.Pod, v)
			if v.logsReady {
				d.logs.Container = v.container
				d.logs.Start(wctx)
			}
			switch {
			case v.ended:
				d.stopLogs(v.logsReady)
				return d.ended(ctx, KubeEnd{Succeeded: v.succeeded, Reason: v.reason})
			case v.fatal != "":
				return d.giveUp(ctx, v.fatal)
			}
		}
	}
}

// podView is what tracking needs of one state of the driver pod.
type podView struct {
	phase     corev1.PodPhase
	container string
	ended     bool
	succeeded bool
	reason    string // of a failure
	logsReady bool   // the driver container runs or ran
	waiting   string // why the driver container waits
	fatal     string // a waiting reason that will not pass (image pull)
}

// assess reads a state of the pod for its driver container.
func (d *driverPod) assess(pod *corev1.Pod) podView {
	v := podView{phase: pod.Status.Phase, container: d.driverContainer(pod)}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != v.container {
			continue
		}
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
			v.waiting = strings.TrimSpace(w.Reason + ": " + w.Message)
			if slices.Contains(pullFailures, w.Reason) {
				v.fatal = "the driver's image cannot be pulled: " + v.waiting
			}
		}
		v.logsReady = cs.State.Running != nil || cs.State.Terminated != nil
		if term := cs.State.Terminated; term != nil {
			v.ended, v.succeeded = true, term.ExitCode == 0
			if !v.succeeded {
				v.reason = fmt.Sprintf("container %s exited with code %d", cs.Name, term.ExitCode)
				if term.Reason != "" {
					v.reason += " (" + term.Reason + ")"
				}
			}
			return v
		}
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		v.ended, v.succeeded = true, true
	case corev1.PodFailed:
		v.ended, v.reason = true, strings.Trim("the pod failed: "+pod.Status.Reason+" "+pod.Status.Message, " :")
	}
	return v
}

// driverContainer is the driver's container: the one the task named
// (spark.kubernetes.driver.podTemplateContainerName), else Spark's
// default name, else the pod's first.
func (d *driverPod) driverContainer(pod *corev1.Pod) string {
	for _, want := range []string{d.container, defaultDriverContainer} {
		for _, c := range pod.Spec.Containers {
			if want != "" && c.Name == want {
				return want
			}
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Name
	}
	return defaultDriverContainer
}

// note writes a line when the pod's phase, node or waiting reason
// changed.
func (d *driverPod) note(pod *corev1.Pod, v podView) {
	line := fmt.Sprintf("driver pod %s is %s", d.where(), v.phase)
	if pod.Spec.NodeName != "" {
		line += " on node " + pod.Spec.NodeName
	}
	if v.waiting != "" {
		line += "; container " + v.container + " is waiting: " + v.waiting
	}
	if line != d.noted && !v.ended {
		d.noted = line
		fmt.Fprintf(d.t.Log, "sirocco: %s\n", line)
	}
}

// stopLogs stops the follower and, with catchUp, writes the rest of the
// log of a driver that ended; a pending save of the position is dropped
// (the caller stores the handle).
func (d *driverPod) stopLogs(catchUp bool) {
	defer d.cancelLaterSave()
	if err := d.logs.Stop(catchUp, catchUpTimeout); err != nil {
		fmt.Fprintf(d.t.Log, "sirocco: could not read the end of the driver's log: %v\n", err)
	}
}

// ended stores the outcome of a pod that ended and returns it. The pod is
// kept, as Spark keeps its drivers' pods: its log stays readable.
func (d *driverPod) ended(ctx context.Context, end KubeEnd) (operator.Result, error) {
	d.r.update(func(h *Handle) { h.Kube.End = &end })
	d.saveOrSay(ctx)
	return d.outcome(end)
}

// outcome maps a stored end to the try's result.
func (d *driverPod) outcome(end KubeEnd) (operator.Result, error) {
	if end.Succeeded {
		fmt.Fprintf(d.t.Log, "sirocco: driver pod %s succeeded\n", d.where())
		return operator.Result{}, nil
	}
	return operator.Result{}, fmt.Errorf("driver pod %s failed: %s", d.where(), end.Reason)
}

// giveUp fails a try whose driver will not start, and deletes its pod so
// that it never starts later with no try following it.
func (d *driverPod) giveUp(ctx context.Context, why string) (operator.Result, error) {
	fmt.Fprintf(d.t.Log, "sirocco: giving up on driver pod %s: %s\n", d.where(), why)
	stopErr := d.stop(ctx, errors.New("it did not start"))
	res, err := d.ended(ctx, KubeEnd{Reason: why})
	return res, errors.Join(err, stopErr)
}

// gone ends a try whose pod disappeared: decided by its last state if it
// had ended (someone cleaned an ended driver up), a failure otherwise.
func (d *driverPod) gone(ctx context.Context, final, last *corev1.Pod) (operator.Result, error) {
	if final != nil {
		if v := d.assess(final); v.ended {
			d.stopLogs(false)
			fmt.Fprintf(d.t.Log, "sirocco: driver pod %s ended and was deleted by someone else; its end decides\n", d.where())
			return d.ended(ctx, KubeEnd{Succeeded: v.succeeded, Reason: v.reason})
		}
		last = final
	}
	d.stopLogs(false)
	phase := "unknown"
	if last != nil {
		phase = string(last.Status.Phase)
	}
	err := fmt.Errorf("%w: driver pod %s was deleted by someone else before it ended (last phase %s)", ErrDriverPodGone, d.where(), phase)
	fmt.Fprintf(d.t.Log, "sirocco: %v\n", err)
	_, _ = d.ended(ctx, KubeEnd{Reason: err.Error()})
	return operator.Result{}, err
}

// interrupted handles the end of ctx while the pod runs: a detach leaves
// it running, its handle stored for the restart; a cancel, a clear or a
// timeout deletes it (Spark's executors are owned by it and go too).
func (d *driverPod) interrupted(ctx context.Context) (operator.Result, error) {
	cause := context.Cause(ctx)
	d.stopLogs(false)
	if detached(ctx) {
		d.saveOrSay(ctx)
		fmt.Fprintf(d.t.Log, "sirocco: leaving driver pod %s running (%v); it is followed again from its handle\n", d.where(), cause)
		return operator.Result{}, cause
	}
	return operator.Result{}, errors.Join(cause, d.stop(ctx, cause))
}

// stop deletes the try's pod (the try's kill grace, then forced), bounded
// whatever ctx says; a pod already gone is no error.
func (d *driverPod) stop(ctx context.Context, why error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout+2*d.t.KillGrace)
	defer cancel()
	return d.deleteWithin(sctx, why)
}

// deleteWithin deletes the try's pod, bounded by ctx.
func (d *driverPod) deleteWithin(ctx context.Context, why error) error {
	grace := d.t.KillGrace
	uid := types.UID(d.r.handle().Kube.UID)
	fmt.Fprintf(d.t.Log, "sirocco: deleting driver pod %s (%v): grace %s, then forced\n", d.where(), why, grace)
	outcome, err := kube.DeletePod(ctx, d.pods, d.name, uid, grace)
	if err != nil {
		fmt.Fprintf(d.t.Log, "sirocco: could not delete driver pod %s; it may still run: %v\n", d.where(), err)
		return fmt.Errorf("delete driver pod %s: %w", d.where(), err)
	}
	fmt.Fprintf(d.t.Log, "sirocco: driver pod %s: %s\n", d.where(), outcome.Describe())
	return nil
}

// detached reports whether ctx ended because Sirocco lets go of the try
// (shutdown, adoption) rather than stopping it.
func detached(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), operator.ErrDetach)
}
