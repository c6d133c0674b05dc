package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// pullFailures are the waiting reasons that mean the image will not be
// pulled without a change (Airflow fails on the first three at once).
var pullFailures = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}

// view is what the tracking loop needs to know of one state of the pod.
type view struct {
	phase corev1.PodPhase
	// ended: the base container terminated, or the pod reached
	// Succeeded or Failed.
	ended     bool
	succeeded bool
	exitCode  *int32
	reason    string // of a failure: the container's or the pod's
	message   string // termination message (the xcom result with do_xcom_push)
	// started: the pod left Pending; logsReady: the base container runs
	// or ran, so its log can be read.
	started   bool
	logsReady bool
	// scheduled, with when; unschedulable is the PodScheduled=False
	// reason and message.
	scheduled     bool
	scheduledAt   time.Time
	unschedulable string
	// waiting is the reason the base container (or an init container)
	// waits, with its message; fatal is set for image pull failures.
	waiting string
	fatal   string
}

// assess reads a pod's status for the base container.
func assess(pod *corev1.Pod, container string) view {
	st := pod.Status
	v := view{phase: st.Phase, started: st.Phase != corev1.PodPending && st.Phase != ""}
	for _, c := range st.Conditions {
		if c.Type != corev1.PodScheduled {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			v.scheduled, v.scheduledAt = true, c.LastTransitionTime.Time
		} else if c.Reason != "" || c.Message != "" {
			v.unschedulable = strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	if pod.Spec.NodeName != "" {
		v.scheduled = true
	}
	for _, cs := range slices.Concat(st.InitContainerStatuses, st.ContainerStatuses) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			what := fmt.Sprintf("container %s is waiting: %s", cs.Name, w.Reason)
			if m := strings.TrimSpace(w.Message); m != "" {
				what += ": " + m
			}
			if v.waiting == "" {
				v.waiting = what
			}
			if slices.Contains(pullFailures, w.Reason) && v.fatal == "" {
				v.fatal = fmt.Sprintf("the image of container %s cannot be pulled: %s", cs.Name, strings.TrimPrefix(what, "container "+cs.Name+" is waiting: "))
			}
		}
	}
	base := containerStatus(st.ContainerStatuses, container)
	if base != nil {
		v.logsReady = base.State.Running != nil || base.State.Terminated != nil
		if t := base.State.Terminated; t != nil {
			code := t.ExitCode
			v.ended, v.exitCode, v.succeeded, v.message = true, &code, code == 0, t.Message
			if code != 0 {
				v.reason = describeTermination(container, t)
				if st.Phase == corev1.PodFailed && st.Reason != "" {
					// Evicted, DeadlineExceeded: why the container was killed.
					v.reason += "; " + podFailure(st)
				}
			}
			return v
		}
	}
	switch st.Phase {
	case corev1.PodSucceeded:
		v.ended, v.succeeded = true, true
	case corev1.PodFailed:
		v.ended = true
		v.reason = podFailure(st)
	}
	return v
}

// podFailure words a Failed pod's reason: the pod's own, else that of an
// init container that failed (the base container then never ran).
func podFailure(st corev1.PodStatus) string {
	s := "the pod failed"
	if r := strings.TrimSpace(st.Reason + ": " + st.Message); r != ":" {
		return s + ": " + strings.Trim(r, ": ")
	}
	for _, cs := range st.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return s + ": init " + describeTermination(cs.Name, t)
		}
	}
	return s
}

func containerStatus(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// describeTermination words a container's failed end.
func describeTermination(name string, t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("container %s exited with code %d", name, t.ExitCode)
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	if t.Signal != 0 {
		s += fmt.Sprintf(", signal %d", t.Signal)
	}
	return s
}

// xcomResult reads the base container's termination message as the
// do_xcom_push result: compact JSON text, nil when empty.
func xcomResult(message string) (*string, error) {
	m := strings.TrimSpace(message)
	if m == "" {
		return nil, nil
	}
	if !json.Valid([]byte(m)) {
		hint := ""
		if len(message) >= 4096 {
			hint = " (the kubelet keeps at most 4096 bytes of it: write less)"
		}
		return nil, fmt.Errorf("do_xcom_push: %s does not hold JSON%s: %.80q", XComPath, hint, m)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(m)); err != nil {
		return nil, fmt.Errorf("do_xcom_push: %s: %w", XComPath, err)
	}
	m = b.String()
	return &m, nil
}

// deadline is when the try gives up on a pod that has not started, and
// what it says then: schedule_timeout_seconds after its creation while it
// is not scheduled, startup_timeout_seconds after its scheduling until it
// starts; zero once it started.
func deadline(v view, created time.Time, c timeouts) (time.Time, string) {
	switch {
	case v.started || v.ended:
		return time.Time{}, ""
	case !v.scheduled:
		why := fmt.Sprintf("the pod was not scheduled within %s (schedule_timeout_seconds)", c.schedule)
		if v.unschedulable != "" {
			why += ": " + v.unschedulable
		}
		return created.Add(c.schedule), why
	}
	at := v.scheduledAt
	if at.IsZero() || at.Before(created) {
		at = created
	}
	why := fmt.Sprintf("the pod did not start within %s of being scheduled (startup_timeout_seconds)", c.startup)
	if v.waiting != "" {
		why += ": " + v.waiting
	}
	return at.Add(c.startup), why
}

// timeouts are the startup limits.
type timeouts struct{ schedule, startup time.Duration }
