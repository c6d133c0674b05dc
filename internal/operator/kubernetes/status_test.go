package kubernetes

import (
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func podWith(phase corev1.PodPhase, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", CreationTimestamp: metav1.NewTime(t0)},
		Status: corev1.PodStatus{Phase: phase}}
	for _, m := range mods {
		m(p)
	}
	return p
}

func scheduled(at time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeName = "kwok-node-0"
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(at)})
	}
}

func unschedulable(msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: msg})
	}
}

func container(name string, st corev1.ContainerState) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: name, State: st})
	}
}

func terminated(code int32, reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg}}
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

// TestAssess: phase and the base container's state decide; image pull
// errors are fatal at once; an unschedulable pod says why.
func TestAssess(t *testing.T) {
	t.Parallel()
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name                              string
		pod                               *corev1.Pod
		ended, ok, started, logs, sched   bool
		code                              int32
		reason, fatal, unsched, waitingIs string
	}{
		{name: "succeeded", pod: podWith(corev1.PodSucceeded, scheduled(t0), container("base", terminated(0, "Completed", ""))),
			ended: true, ok: true, started: true, logs: true, sched: true},
		{name: "failed exit code", pod: podWith(corev1.PodFailed, scheduled(t0), container("base", terminated(3, "Error", ""))),
			ended: true, started: true, logs: true, sched: true, code: 3, reason: "container base exited with code 3 (Error)"},
		{name: "base ended, sidecar runs", pod: podWith(corev1.PodRunning, scheduled(t0), container("base", terminated(0, "", "")), container("side", running)),
			ended: true, ok: true, started: true, logs: true, sched: true},
		{name: "other container's status only", pod: podWith(corev1.PodRunning, scheduled(t0), container("other", terminated(1, "", ""))),
			started: true, sched: true},
		{name: "deadline exceeded", pod: podWith(corev1.PodFailed, scheduled(t0), func(p *corev1.Pod) {
			p.Status.Reason, p.Status.Message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
		}), ended: true, started: true, sched: true, reason: "the pod failed: DeadlineExceeded: Pod was active on the node longer than the specified deadline"},
		{name: "running", pod: podWith(corev1.PodRunning, scheduled(t0), container("base", running)), started: true, logs: true, sched: true},
		{name: "evicted, its container killed", pod: podWith(corev1.PodFailed, scheduled(t0), container("base", terminated(137, "ContainerStatusUnknown", "")), func(p *corev1.Pod) {
			p.Status.Reason, p.Status.Message = "Evicted", "The node was low on resource: memory."
		}), ended: true, started: true, logs: true, sched: true, code: 137,
			reason: "container base exited with code 137 (ContainerStatusUnknown); the pod failed: Evicted: The node was low on resource: memory."},
		{name: "init container failed", pod: podWith(corev1.PodFailed, scheduled(t0), container("base", waiting("PodInitializing", "")), func(p *corev1.Pod) {
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "setup", State: terminated(2, "Error", "")}}
		}), ended: true, started: true, sched: true, reason: "the pod failed: init container setup exited with code 2 (Error)"},
		{name: "image pull", pod: podWith(corev1.PodPending, scheduled(t0), container("base", waiting("ErrImagePull", "ErrImagePull (kwok test bed)"))),
			sched: true, fatal: "the image of container base cannot be pulled: ErrImagePull: ErrImagePull (kwok test bed)",
			waitingIs: "container base is waiting: ErrImagePull"},
		{name: "back-off", pod: podWith(corev1.PodPending, scheduled(t0), container("base", waiting("ImagePullBackOff", ""))),
			sched: true, fatal: "cannot be pulled: ImagePullBackOff"},
		{name: "creating", pod: podWith(corev1.PodPending, scheduled(t0), container("base", waiting("ContainerCreating", ""))), sched: true},
		{name: "config error", pod: podWith(corev1.PodPending, scheduled(t0), container("base", waiting("CreateContainerConfigError", "secret \"s\" not found"))),
			sched: true, waitingIs: `container base is waiting: CreateContainerConfigError: secret "s" not found`},
		{name: "unschedulable", pod: podWith(corev1.PodPending, unschedulable("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")),
			unsched: "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
	}
	for _, tt := range tests {
		v := assess(tt.pod, "base")
		if v.ended != tt.ended || v.succeeded != tt.ok || v.started != tt.started || v.logsReady != tt.logs || v.scheduled != tt.sched {
			t.Errorf("%s: %+v", tt.name, v)
		}
		if tt.ended && !tt.ok && tt.code != 0 && (v.exitCode == nil || *v.exitCode != tt.code) {
			t.Errorf("%s: exit code %v", tt.name, v.exitCode)
		}
		if v.reason != tt.reason || !strings.Contains(v.fatal, tt.fatal) || (tt.fatal == "" && v.fatal != "") || v.unschedulable != tt.unsched {
			t.Errorf("%s: reason %q fatal %q unschedulable %q", tt.name, v.reason, v.fatal, v.unschedulable)
		}
		if tt.waitingIs != "" && !strings.HasPrefix(v.waiting, tt.waitingIs) {
			t.Errorf("%s: waiting %q, want %q", tt.name, v.waiting, tt.waitingIs)
		}
	}
}

// TestDeadline: not scheduled, the schedule timeout counts from the
// creation; scheduled, the startup timeout from the scheduling; started,
// none.
func TestDeadline(t *testing.T) {
	t.Parallel()
	to := timeouts{schedule: 30 * time.Second, startup: 120 * time.Second}
	pending := podWith(corev1.PodPending, unschedulable("0/1 nodes are available"))
	at, why := deadline(assess(pending, "base"), t0, to)
	if !at.Equal(t0.Add(30*time.Second)) || !strings.Contains(why, "not scheduled within 30s") || !strings.Contains(why, "0/1 nodes") {
		t.Errorf("unscheduled: %v %q", at, why)
	}
	sched := podWith(corev1.PodPending, scheduled(t0.Add(10*time.Second)), container("base", waiting("CreateContainerConfigError", "no secret")))
	at, why = deadline(assess(sched, "base"), t0, to)
	if !at.Equal(t0.Add(130*time.Second)) || !strings.Contains(why, "did not start within 2m0s of being scheduled") || !strings.Contains(why, "no secret") {
		t.Errorf("scheduled: %v %q", at, why)
	}
	if at, _ := deadline(assess(podWith(corev1.PodRunning), "base"), t0, to); !at.IsZero() {
		t.Errorf("started: %v", at)
	}
}

// TestXComPushedAsValue: a pod's JSON result is pushed as the value it
// holds (ReturnJSON), not as a string of its text; none without one.
func TestXComPushedAsValue(t *testing.T) {
	t.Parallel()
	r := &run{t: &operator.Task{Log: io.Discard}, h: Handle{Namespace: "ns", Name: "p"}}
	text := `{"rows":3}`
	res, err := r.outcome(End{Succeeded: true, ReturnValue: &text})
	if err != nil || string(res.ReturnJSON) != text || res.ReturnValue != nil {
		t.Errorf("outcome = %+v, %v; want ReturnJSON %s", res, err, text)
	}
	res, err = r.outcome(End{Succeeded: true})
	if err != nil || res.ReturnJSON != nil || res.ReturnValue != nil {
		t.Errorf("outcome without a result = %+v, %v", res, err)
	}
}

func TestXComResult(t *testing.T) {
	t.Parallel()
	if v, err := xcomResult(""); v != nil || err != nil {
		t.Errorf("empty: %v %v", v, err)
	}
	if v, err := xcomResult(`{"rows": 3, "ids": [1, 2]}` + "\n"); err != nil || *v != `{"rows":3,"ids":[1,2]}` {
		t.Errorf("JSON: %v %v", v, err)
	}
	if _, err := xcomResult(strings.Repeat("x", 4096)); err == nil || !strings.Contains(err.Error(), "at most 4096 bytes") {
		t.Errorf("truncated: %v", err)
	}
}
