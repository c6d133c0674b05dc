package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Recoverer resumes and stops the pods of kubernetes_pod tries after the
// Sirocco that started them died: the pod runs on in its cluster, and
// the handle reaches it again.
type Recoverer struct{}

// HandleKinds is the pod handle.
func (Recoverer) HandleKinds() []string { return []string{HandleKind} }

// CanResume accepts every valid pod handle of a task with
// reattach_on_restart (Airflow's default); without it the pod is deleted
// and the try runs again.
func (Recoverer) CanResume(b []byte) bool {
	h, err := decodeHandle(b)
	return err == nil && h.Reattach
}

// Resume follows the try's pod to its end, exactly as Execute would: the
// pod of the stored name (and UID), else the one pod carrying the try's
// labels. A handle stored before the create answered, whose pod does not
// exist, creates it (same name) from the task's fields. With ctx already
// ended (the run ended meanwhile) it deletes the pod, unless the cause is
// a detach.
func (Recoverer) Resume(ctx context.Context, t *operator.Task, b []byte) (operator.Result, error) {
	h, err := decodeHandle(b)
	if err != nil {
		return operator.Result{}, err
	}
	if detached(ctx) {
		return operator.Result{}, context.Cause(ctx)
	}
	r, err := reach(ctx, t, h)
	if err != nil {
		return operator.Result{}, err
	}
	if h.End != nil {
		return r.resumeEnded(ctx, *h.End)
	}
	wctx, cancel := workContext(ctx, r.grace()+stopMargin)
	defer cancel()
	pod, err := r.locate(wctx)
	if err != nil {
		return operator.Result{}, err
	}
	if ctx.Err() != nil {
		if pod == nil {
			return operator.Result{}, context.Cause(ctx)
		}
		return operator.Result{}, errors.Join(context.Cause(ctx), r.stop(ctx, context.Cause(ctx)))
	}
	if pod == nil {
		return r.recreate(ctx)
	}
	pos := h.Log
	from := "its log from the start"
	if !pos.IsZero() {
		from = "its log after " + pos.Time.Format("15:04:05.000000000")
	}
	fmt.Fprintf(t.Log, "sirocco: reattaching to pod %s/%s (phase %s), %s\n", pod.Namespace, pod.Name, pod.Status.Phase, from)
	return r.track(ctx, pod)
}

// Stop deletes the try's pod (grace: termination_grace_period, else the
// try's kill_grace; then forced), bounded by ctx; a pod already gone, or
// never created, is no error.
func (Recoverer) Stop(ctx context.Context, t *operator.Task, b []byte) error {
	h, err := decodeHandle(b)
	if err != nil {
		return err
	}
	r, err := reach(ctx, t, h)
	if err != nil {
		return err
	}
	pod, err := r.locate(ctx)
	if err != nil {
		return err
	}
	if pod == nil {
		fmt.Fprintf(t.Log, "sirocco: pod %s is gone (or was never created): nothing to stop\n", h.where())
		return nil
	}
	grace := r.grace()
	outcome, err := kube.DeletePod(ctx, r.pods, pod.Name, pod.UID, grace)
	if err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	fmt.Fprintf(t.Log, "sirocco: pod %s/%s: %s\n", pod.Namespace, pod.Name, outcome.Describe())
	return nil
}

// reach connects to the handle's cluster, with the task's stored
// overrides of its connection.
func reach(ctx context.Context, t *operator.Task, h Handle) (*run, error) {
	cl, err := connect(ctx, t, h.ConnID, h.overrides())
	if err != nil {
		return nil, err
	}
	return newRun(t, cl, h), nil
}

// locate finds the try's pod: by the stored name (and UID, when known,
// else the try's labels), else the one pod carrying the try's labels
// (then adopted). nil: none.
func (r *run) locate(ctx context.Context) (*corev1.Pod, error) {
	h := r.handle()
	var pod *corev1.Pod
	err := r.retryCall(ctx, "read pod "+h.Name, func(ctx context.Context) error {
		p, err := r.pods.Get(ctx, h.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		// Without a UID (the create never answered) only a pod carrying
		// the try's labels is the try's: the name may be held by another
		// pod (an earlier try's, kept), which must not be followed or
		// deleted.
		if h.UID == "" && r.ours(p) || h.UID != "" && p.UID == types.UID(h.UID) {
			pod = p
		}
		return nil
	})
	if err != nil || pod != nil {
		return pod, err
	}
	found, err := r.findTryPod(ctx)
	if err != nil || found == nil {
		return nil, err
	}
	fmt.Fprintf(r.t.Log, "sirocco: pod %s is gone; pod %s/%s carries this try's labels: it is the try's\n", h.where(), found.Namespace, found.Name)
	r.adopt(found)
	r.saveOrWarn(ctx)
	return found, nil
}

// resumeEnded ends a try whose pod had ended (or been given up on) before
// the restart: the stored outcome decides; on_finish_action (or the
// deletion of a pod given up on) is done again, idempotently.
func (r *run) resumeEnded(ctx context.Context, end End) (operator.Result, error) {
	h := r.handle()
	fmt.Fprintf(r.t.Log, "sirocco: pod %s had ended before the restart; its stored outcome decides\n", h.where())
	if end.GaveUp {
		if err := r.stop(ctx, errors.New("it did not start")); err != nil {
			return operator.Result{}, errors.Join(fmt.Errorf("pod %s: %s", h.where(), end.Reason), err)
		}
		return operator.Result{}, fmt.Errorf("pod %s: %s", h.where(), end.Reason)
	}
	res, err := r.outcome(end)
	r.finishAction(ctx, end)
	return res, err
}

// recreate handles a pod that does not exist after a restart: one whose
// create was confirmed (a UID stored), or that left events since its
// create was sent (Sirocco died before storing its UID), was deleted by
// someone else; one whose create never reached the apiserver is created
// now with the stored name, from the task's fields (unless they were
// stored with secrets masked, which a pod must not be given).
func (r *run) recreate(ctx context.Context) (operator.Result, error) {
	h := r.handle()
	if h.UID != "" {
		return operator.Result{}, fmt.Errorf("%w: pod %s was deleted by someone else while Sirocco was down", ErrPodGone, h.where())
	}
	if existed, err := r.existed(ctx); err != nil || existed {
		if err != nil {
			return operator.Result{}, fmt.Errorf("pod %s is not there and whether it was ever created is unknown: %w", h.where(), err)
		}
		return operator.Result{}, fmt.Errorf("%w: pod %s was created (its events say so) and deleted by someone else while Sirocco was down", ErrPodGone, h.where())
	}
	if len(r.t.Args) == 0 || operator.HoldsMask(r.t.Args) {
		return operator.Result{}, fmt.Errorf("pod %s was never created (Sirocco stopped before its create was answered) "+
			"and the task's fields are not available unmasked to create it now", h.where())
	}
	c, err := readConfig(r.t.Args)
	if err != nil {
		return operator.Result{}, err
	}
	id := tryIdentity{DagID: r.t.DagID, RunID: r.t.RunID, TaskID: r.t.TaskID, Try: r.t.TryNumber, Map: r.t.Map}
	if !sameLabels(id.labels(), h.Labels) {
		return operator.Result{}, fmt.Errorf("pod %s: the handle is not this try's (labels %v)", h.where(), h.Labels)
	}
	fmt.Fprintf(r.t.Log, "sirocco: pod %s was never created (Sirocco stopped before its create was answered): creating it now\n", h.where())
	return r.createAndTrack(ctx, buildPod(c, id, h.Name, h.Namespace, r.t.Env, r.t.CtxEnv))
}

// existed reports whether a pod of the handle's name left events since
// the try sent its create: it was created, even if it is gone now. A
// handle of an older version (no CreateSent) had its UID stored right
// after the create: it was never created.
func (r *run) existed(ctx context.Context) (bool, error) {
	h := r.handle()
	if h.CreateSent.IsZero() {
		return false, nil
	}
	var found bool
	err := r.retryCall(ctx, "list the events of pod "+h.Name, func(ctx context.Context) error {
		var err error
		found, err = kube.PodEventsSince(ctx, r.cl.Client, h.Namespace, h.Name, h.CreateSent)
		return err
	})
	return found, err
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// workContext is ctx for what must run even when the try is being stopped
// (find the pod and delete it): a fresh context bounded by limit if ctx
// has already ended.
func workContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), limit)
}
