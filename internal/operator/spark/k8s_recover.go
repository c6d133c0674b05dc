package spark

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// reachDriver connects to the cluster of a handle's driver pod: the
// stored kubernetes connection and namespace, or, for a handle from
// before version 4, those its Spark connection names now.
func reachDriver(ctx context.Context, t *operator.Task, h Handle) (*driverPod, error) {
	k := *h.Kube
	h.Kube = &k
	connID := k.ConnID
	legacy := k.legacy()
	var s settings
	if legacy {
		var err error
		if s, err = resolve(ctx, t, connOnly(h.ConnID)); err != nil {
			return nil, fmt.Errorf("driver pod %s: %w", h.DriverPod, err)
		}
		connID = s.KubeConnID
	}
	cl, err := connectKube(ctx, t, connID)
	if err != nil {
		return nil, fmt.Errorf("driver pod %s: %w", h.DriverPod, err)
	}
	if legacy {
		if k.Namespace, err = kubeNamespace(s, nil, cl); err != nil {
			return nil, fmt.Errorf("driver pod %s: %w", h.DriverPod, err)
		}
		k.ConnID = cl.Settings.ConnID
		fmt.Fprintf(t.Log, "sirocco: driver pod %s was recorded by an older Sirocco: looking for it in namespace %s (%s)\n",
			h.DriverPod, k.Namespace, cl.Settings)
	}
	d := newDriverPod(newSubmission(t, settings{}, &h), cl, "")
	d.legacy = legacy
	return d, nil
}

// resumeKube follows a try's driver pod after a restart, as Execute would
// have: its stored end decides if it had ended; the pod of the stored name
// is tracked (its log from the stored position); a pod deleted meanwhile
// fails the try; a pod never created (Sirocco stopped while spark-submit
// was submitting) is submitted now, with the same name. A try resumed
// only to be stopped deletes the pod.
func resumeKube(ctx context.Context, t *operator.Task, h Handle) (operator.Result, error) {
	if detached(ctx) {
		return operator.Result{}, context.Cause(ctx)
	}
	wctx, cancel := workContext(ctx, killTimeout+t.KillGrace)
	defer cancel()
	d, err := reachDriver(wctx, t, h)
	if err != nil {
		return operator.Result{}, err
	}
	if end := h.Kube.End; end != nil {
		fmt.Fprintf(t.Log, "sirocco: driver pod %s had ended before the restart; its stored outcome decides\n", d.where())
		return d.outcome(*end)
	}
	pod, err := d.get(wctx)
	if err == nil && pod == nil && h.Process != nil {
		// spark-submit may still be creating it: stop it, then look again.
		if _, serr := h.Process.Stop(wctx, t.KillGrace); serr != nil {
			fmt.Fprintf(t.Log, "sirocco: stop the earlier spark-submit: %v\n", serr)
		}
		pod, err = d.get(wctx)
	}
	if err != nil {
		return operator.Result{}, err
	}
	if pod != nil && !d.ours(pod) {
		// Checked before a stop too: a pod that is not the try's is
		// neither followed nor deleted.
		return operator.Result{}, fmt.Errorf("pod %s is not this try's (labels %v)", d.where(), pod.Labels)
	}
	if ctx.Err() != nil {
		if pod == nil {
			return operator.Result{}, context.Cause(ctx)
		}
		return operator.Result{}, errors.Join(context.Cause(ctx), d.stop(ctx, context.Cause(ctx)))
	}
	if pod == nil {
		return resubmit(ctx, t, d, h)
	}
	from := "its log from the start"
	if pos := h.Kube.Log; !pos.IsZero() {
		from = "its log after " + pos.Time.Format("15:04:05.000000000")
	}
	fmt.Fprintf(t.Log, "sirocco: reattaching to driver pod %s (phase %s), %s\n", d.where(), pod.Status.Phase, from)
	return d.track(ctx, pod)
}

// resubmit handles a driver pod that does not exist after a restart: one
// seen before (a UID stored) was deleted by someone else; one never
// created is submitted now from the task's fields, under the same name.
func resubmit(ctx context.Context, t *operator.Task, d *driverPod, h Handle) (operator.Result, error) {
	switch {
	case h.Kube.UID != "" || d.legacy:
		return operator.Result{}, fmt.Errorf("%w: driver pod %s was deleted by someone else while Sirocco was down", ErrDriverPodGone, d.where())
	case len(t.Args) == 0 || operator.HoldsMask(t.Args):
		return operator.Result{}, fmt.Errorf("driver pod %s was never created (Sirocco stopped while spark-submit was submitting) "+
			"and the task's fields are not available unmasked to submit it now", d.where())
	case driverPodName(t.DagID, t.RunID, t.TaskID, t.TryNumber) != h.DriverPod:
		return operator.Result{}, fmt.Errorf("driver pod %s: the handle is not this try's", d.where())
	}
	fmt.Fprintf(t.Log, "sirocco: driver pod %s was never created (Sirocco stopped while spark-submit was submitting): submitting it now\n", d.where())
	return Submit{}.Execute(ctx, t)
}

// stopKube deletes the driver pod of a handle (grace: the try's kill
// grace, then forced), bounded by ctx. A pod already gone, never created,
// or that ended (kept, as Spark keeps its drivers' pods) is no error.
func stopKube(ctx context.Context, t *operator.Task, h Handle) error {
	if h.Kube.End != nil {
		return nil
	}
	d, err := reachDriver(ctx, t, h)
	if err != nil {
		return err
	}
	pod, err := d.get(ctx)
	if err != nil {
		return err
	}
	if pod == nil {
		fmt.Fprintf(t.Log, "sirocco: driver pod %s is gone (or was never created): nothing to stop\n", d.where())
		return nil
	}
	if !d.ours(pod) {
		return fmt.Errorf("pod %s is not this try's (labels %v): not deleting it", d.where(), pod.Labels)
	}
	d.r.update(func(h *Handle) { h.Kube.UID = string(pod.UID) })
	return d.deleteWithin(ctx, errors.New("its Sirocco is gone"))
}
