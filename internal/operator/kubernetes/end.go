package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// ErrPodGone is the cause of a try whose pod was deleted by someone else
// before it ended.
var ErrPodGone = errors.New("pod deleted")

// ended decides the try from a pod that ended: the rest of its log, its
// exit code (skip_on_exit_code), its xcom result; the outcome is stored
// before on_finish_action may delete the pod.
func (r *run) ended(ctx context.Context, pod *corev1.Pod, v view) (operator.Result, error) {
	h := r.handle()
	r.stopLogs(h.GetLogs && v.logsReady)
	end := End{Succeeded: v.succeeded, ExitCode: v.exitCode, Reason: v.reason}
	if v.succeeded && h.XCom {
		rv, err := xcomResult(v.message)
		if err != nil {
			end.Succeeded, end.Reason = false, err.Error()
		}
		end.ReturnValue = rv
	}
	if !v.succeeded {
		r.logEvents(ctx, pod.UID)
	}
	r.update(func(h *Handle) { h.End = &end })
	r.saveOrWarn(ctx)
	res, err := r.outcome(end)
	r.finishAction(ctx, end)
	return res, err
}

// outcome maps a stored end to the try's result.
func (r *run) outcome(end End) (operator.Result, error) {
	h := r.handle()
	switch {
	case end.Succeeded:
		fmt.Fprintf(r.t.Log, "sirocco: pod %s succeeded\n", h.where())
		return end.result(), nil
	case end.ExitCode != nil && slices.Contains(h.Skip, int(*end.ExitCode)):
		return operator.Result{}, fmt.Errorf("%w: pod %s: container %s exited with code %d (skip_on_exit_code)",
			operator.ErrSkip, h.where(), h.Container, *end.ExitCode)
	}
	return operator.Result{}, fmt.Errorf("pod %s failed: %s", h.where(), end.Reason)
}

// result is what a pod that succeeded pushes: the JSON it wrote to
// XComPath as the value it is (a dict stays a dict for xcom_pull), as
// Airflow's KubernetesPodOperator pushes the parsed JSON.
func (end End) result() operator.Result {
	if end.ReturnValue == nil {
		return operator.Result{}
	}
	return operator.Result{ReturnJSON: []byte(*end.ReturnValue)}
}

// finishAction applies on_finish_action to a pod that ended; a pod given
// up on (GaveUp) was deleted already. A failure to delete is said in the
// log and changes nothing of the outcome.
func (r *run) finishAction(ctx context.Context, end End) {
	h := r.handle()
	if h.OnFinish == KeepPod || h.OnFinish == DeleteSucceededPod && !end.Succeeded {
		fmt.Fprintf(r.t.Log, "sirocco: pod %s kept (on_finish_action %s)\n", h.where(), h.OnFinish)
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	if err := kube.RequestDelete(dctx, r.pods, h.Name, types.UID(h.UID), nil); err != nil {
		fmt.Fprintf(r.t.Log, "sirocco: could not delete pod %s (on_finish_action %s): %v\n", h.where(), h.OnFinish, err)
		return
	}
	fmt.Fprintf(r.t.Log, "sirocco: pod %s deleted (on_finish_action %s)\n", h.where(), h.OnFinish)
}

// giveUp fails a try whose pod did not start (startup or schedule
// timeout, image pull error): the reason with the pod's Warning events,
// and the pod deleted, so that it never starts later with no try
// following it.
func (r *run) giveUp(ctx context.Context, pod *corev1.Pod, why string) (operator.Result, error) {
	r.stopSaving()
	h := r.handle()
	var uid types.UID
	if pod != nil {
		uid = pod.UID
	}
	if evs := r.events(ctx, uid); len(evs) > 0 {
		why += "; events: " + strings.Join(evs, "; ")
	}
	fmt.Fprintf(r.t.Log, "sirocco: giving up on pod %s: %s\n", h.where(), why)
	r.update(func(h *Handle) { h.End = &End{Reason: why, GaveUp: true} })
	r.saveOrWarn(ctx)
	stopErr := r.stop(ctx, errors.New("it did not start"))
	return operator.Result{}, errors.Join(fmt.Errorf("pod %s: %s", h.where(), why), stopErr)
}

// gone ends a try whose pod disappeared: decided by its last state if it
// had ended (someone cleaned an ended pod up), a failure otherwise.
func (r *run) gone(ctx context.Context, final, last *corev1.Pod) (operator.Result, error) {
	h := r.handle()
	if final != nil {
		if v := assess(final, h.Container); v.ended {
			r.stopLogs(false)
			fmt.Fprintf(r.t.Log, "sirocco: pod %s ended and was deleted by someone else; its end decides\n", h.where())
			end := End{Succeeded: v.succeeded, ExitCode: v.exitCode, Reason: v.reason}
			if v.succeeded && h.XCom {
				rv, err := xcomResult(v.message)
				if err != nil {
					end.Succeeded, end.Reason = false, err.Error()
				}
				end.ReturnValue = rv
			}
			return r.outcome(end)
		}
		last = final
	}
	r.stopLogs(false)
	phase := "unknown"
	if last != nil {
		phase = string(last.Status.Phase)
	}
	err := fmt.Errorf("%w: pod %s was deleted by someone else before it ended (last phase %s)", ErrPodGone, h.where(), phase)
	fmt.Fprintf(r.t.Log, "sirocco: %v\n", err)
	return operator.Result{}, err
}

// interrupted handles the end of ctx while the pod runs: a detach leaves
// it running (its handle stored for the adopter); a cancel, a clear or
// a timeout deletes it.
func (r *run) interrupted(ctx context.Context) (operator.Result, error) {
	cause := context.Cause(ctx)
	r.stopLogs(false)
	if detached(ctx) {
		r.saveOrWarn(ctx)
		fmt.Fprintf(r.t.Log, "sirocco: letting go of pod %s, which runs on (%v); it is followed again from its handle\n",
			r.handle().where(), cause)
		return operator.Result{}, cause
	}
	return operator.Result{}, errors.Join(cause, r.stop(ctx, cause))
}

// stop deletes the try's pod (grace, then force), bounded by the grace
// and a margin whatever ctx says.
func (r *run) stop(ctx context.Context, why error) error {
	h := r.handle()
	grace := r.grace()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*grace+2*stopMargin)
	defer cancel()
	fmt.Fprintf(r.t.Log, "sirocco: deleting pod %s (%v): grace %s, then forced\n", h.where(), why, grace)
	outcome, err := kube.DeletePod(sctx, r.pods, h.Name, types.UID(h.UID), grace)
	if err != nil {
		fmt.Fprintf(r.t.Log, "sirocco: could not delete pod %s; it may still run: %v\n", h.where(), err)
		return fmt.Errorf("delete pod %s: %w", h.where(), err)
	}
	fmt.Fprintf(r.t.Log, "sirocco: pod %s: %s\n", h.where(), outcome.Describe())
	return nil
}

// grace is the delete's grace: termination_grace_period, else the try's
// kill_grace.
func (r *run) grace() time.Duration {
	if g := r.handle().GraceSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return r.t.KillGrace
}

// events returns the pod's Warning events, bounded in time; a failure
// to read them is said in the log.
func (r *run) events(ctx context.Context, uid types.UID) []string {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	h := r.handle()
	evs, err := kube.WarningEvents(ectx, r.cl.Client, h.Namespace, h.Name, uid)
	if err != nil {
		fmt.Fprintf(r.t.Log, "sirocco: %v\n", err)
	}
	return evs
}

// logEvents writes the Warning events of a pod that failed
// (log_events_on_failure).
func (r *run) logEvents(ctx context.Context, uid types.UID) {
	if !r.handle().LogEvents {
		return
	}
	for _, e := range r.events(ctx, uid) {
		fmt.Fprintf(r.t.Log, "sirocco: pod event: %s\n", e)
	}
}

// detached reports whether ctx ended because Sirocco is letting go of the
// try (shutdown, adoption) rather than stopping it.
func detached(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), operator.ErrDetach)
}

// sleep waits d, or less if ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
