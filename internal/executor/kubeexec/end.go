package kubeexec

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// fatalWaiting are the waiting reasons of a worker container that will
// not start by waiting longer (Airflow's
// worker_pods_pending_fatal_container_state_reasons).
var fatalWaiting = []string{"CreateContainerConfigError", "ErrImagePull", "CreateContainerError", "ImageInspectError", "InvalidImageName"}

// view is what a pod's state means for its try.
type view struct {
	phase   corev1.PodPhase
	started bool   // the worker container has started: its log can be read
	ended   bool   // the pod has ended
	end     string // why, when ended
	waiting string // the worker container's waiting reason and message
	fatal   string // a reason it will never start
	// elsewhere: the worker container exited ExitEndedElsewhere, its try
	// not its to end.
	elsewhere bool
}

// assess reads a pod's state.
func assess(pod *corev1.Pod) view {
	v := view{phase: pod.Status.Phase}
	var cs *corev1.ContainerStatus
	for i := range pod.Status.ContainerStatuses {
		c := &pod.Status.ContainerStatuses[i]
		if c.Name == BaseContainer || cs == nil {
			cs = c
		}
	}
	if cs != nil {
		st := cs.State
		v.started = st.Running != nil || st.Terminated != nil
		if w := st.Waiting; w != nil && w.Reason != "" {
			v.waiting = strings.TrimSpace(w.Reason + ": " + w.Message)
			if slices.Contains(fatalWaiting, w.Reason) {
				v.fatal = "its container cannot start: " + v.waiting
			}
		}
	}
	if v.phase == corev1.PodSucceeded || v.phase == corev1.PodFailed {
		v.ended = true
		v.end = endReason(pod, cs)
		v.elsewhere = cs != nil && cs.State.Terminated != nil && cs.State.Terminated.ExitCode == ExitEndedElsewhere
	}
	return v
}

// endReason describes how a pod ended: its phase, the worker container's
// exit code and reason, the pod's own reason (Evicted, DeadlineExceeded).
func endReason(pod *corev1.Pod, cs *corev1.ContainerStatus) string {
	parts := []string{fmt.Sprintf("worker pod %s/%s %s", pod.Namespace, pod.Name, pod.Status.Phase)}
	if cs != nil && cs.State.Terminated != nil {
		t := cs.State.Terminated
		s := fmt.Sprintf("exit code %d", t.ExitCode)
		if t.Reason != "" {
			s += " (" + t.Reason + ")"
		}
		if m := strings.TrimSpace(t.Message); m != "" {
			s += ": " + m
		}
		parts = append(parts, s)
	}
	if pod.Status.Reason != "" || pod.Status.Message != "" {
		parts = append(parts, strings.TrimSpace(pod.Status.Reason+" "+pod.Status.Message))
	}
	return strings.Join(parts, ", ")
}

// note writes a line when the pod's phase, node or waiting reason
// changed.
func (f *podFollow) note(pod *corev1.Pod, v view) {
	line := fmt.Sprintf("worker pod %s/%s is %s", pod.Namespace, pod.Name, v.phase)
	if pod.Spec.NodeName != "" {
		line += " on node " + pod.Spec.NodeName
	}
	if v.waiting != "" {
		line += "; " + v.waiting
	}
	if line != f.noted && !v.ended {
		f.noted = line
		f.lw.Printf("sirocco: %s", line)
	}
}

// startupReason says why a pod has not started: its container's waiting
// reason, its scheduling condition, its Warning events.
func (f *podFollow) startupReason(pod *corev1.Pod) string {
	var parts []string
	if v := assess(pod); v.waiting != "" {
		parts = append(parts, v.waiting)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			parts = append(parts, strings.TrimSpace("not scheduled: "+c.Reason+" "+c.Message))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if evs, err := kube.WarningEvents(ctx, f.x.cluster.Client, pod.Namespace, pod.Name, pod.UID); err == nil {
		parts = append(parts, evs...)
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// settle ends the try after its pod: an outcome the pod recorded stands;
// a try still running had none, and is given back as an infrastructure
// failure (run again without spending a retry, up to the cap; then
// failed), with why in its log; a cleared try is handed back to run
// again. It returns the row the try ended with.
func (f *podFollow) settle(why string) []store.TaskInstance {
	x, t := f.x, f.t
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	ti, err := x.r.Store.GetTaskInstance(ctx, t.key)
	if err != nil {
		f.lw.Printf("sirocco: could not read the try's state after its pod ended: %v", err)
		return nil
	}
	if ti.TryNumber != t.n {
		f.cleared = true // cleared and handed out again
		return nil
	}
	if !t.ownsRow(ti) {
		return nil // a sensor's next poke, in a pod of its own: this pod's outcome was recorded
	}
	switch ti.State {
	case store.StateRunning:
		return f.failInfra(ctx, ti, why)
	case store.StateNone:
		f.cleared = true // handed back by the pod
	case store.StateRestarting:
		f.cleared = true
		back := store.TaskUpdate{Key: t.key, From: []store.TaskState{store.StateRestarting}, FromTry: &t.n, To: store.StateNone}
		scheduler.EndPokes(&back, ti) // a cleared sensor starts again, as under the local executor
		w, err := x.r.Store.UpdateTaskRow(ctx, back)
		if err != nil || !w.OK {
			return nil
		}
		f.lw.Printf("sirocco: the try was cleared; the task runs again")
		return []store.TaskInstance{w.Row}
	}
	return []store.TaskInstance{ti}
}

// failInfra records the end of a try whose pod ended without its outcome.
func (f *podFollow) failInfra(ctx context.Context, ti store.TaskInstance, why string) []store.TaskInstance {
	x, t := f.x, f.t
	now := x.r.Clock.Now()
	task := x.task(t.key)
	u := store.TaskUpdate{Key: t.key, From: []store.TaskState{store.StateRunning}, To: store.StateFailed, EndDate: &now}
	rerun := false
	if task != nil {
		u, rerun = scheduler.ShutdownUpdate(task, ti, now)
	}
	u.FromTry = &t.n
	w, err := x.r.Store.UpdateTaskRow(ctx, u)
	if err != nil {
		f.lw.Printf("sirocco: could not record the end of the try: %v", err)
		return nil
	}
	if !w.OK {
		return nil // recorded meanwhile
	}
	f.lw.Printf("sirocco: the try ended without recording its outcome: %s", why)
	if rerun {
		f.lw.Printf("sirocco: an infrastructure failure: the task runs again without spending a retry (%d of at most %d such reruns)",
			ti.InfraReruns+1, scheduler.MaxInfraReruns)
	} else {
		f.lw.Printf("sirocco: the try counts as %s (%d reruns for infrastructure failures already, the most Sirocco allows)", w.Row.State, ti.InfraReruns)
	}
	x.r.Logger.Warn("worker pod try ended without an outcome", "dag_id", t.key.DagID, "run_id", t.key.RunID, "task_id", t.key.TaskID,
		"try", t.n, "reason", why, "state", w.Row.State)
	return []store.TaskInstance{w.Row}
}

// task returns the loaded task of k, or nil.
func (x *Executor) task(k store.TaskKey) *dag.Task {
	d := x.r.DAGs.DAGs()[k.DagID]
	if d == nil {
		return nil
	}
	return d.Task(k.TaskID)
}

// startLogs follows the worker container's log into the try's log file,
// once, from the position stored beside it.
func (f *podFollow) startLogs(ctx context.Context) {
	if f.logs != nil {
		return
	}
	raw, err := os.OpenFile(f.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		f.lw.Printf("sirocco: cannot write the worker pod's log: %v", err)
		return
	}
	f.raw = raw
	f.logs = &kube.LogFollower{Pods: f.x.pods, Pod: f.t.h.Name, Container: BaseContainer, Out: raw,
		OnRetry: f.retrying("read the log of worker pod"), OnProgress: f.savePosition}
	f.logs.SetPosition(f.loadPosition())
	lctx, cancel := context.WithCancel(ctx)
	f.stopLogs, f.logsDone = cancel, make(chan struct{})
	f.posMu.Lock()
	f.flowing = true
	f.posMu.Unlock()
	go func() {
		defer close(f.logsDone)
		f.logs.Follow(lctx)
	}()
}

// endLogs stops the follower; with catchUp, it first writes what the log
// holds after it (the end of an ended container's log).
func (f *podFollow) endLogs(catchUp bool) {
	if f.logsDone == nil {
		return
	}
	f.stopLogs()
	<-f.logsDone
	f.logsDone = nil
	f.logs.OnProgress = nil // the follower stopped: the last position is stored below
	if catchUp {
		ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
		defer cancel()
		if err := f.logs.CatchUp(ctx); err != nil {
			f.lw.Printf("sirocco: could not read the end of the worker pod's log: %v", err)
		}
	}
	f.posMu.Lock()
	f.pos = f.logs.Position()
	f.posMu.Unlock()
	f.stopSaving()
}

// saveEvery bounds how often the log position is stored while the log
// flows: a restart repeats at most the lines of the last saveEvery.
const saveEvery = time.Second

// positionPath is the file beside the try's log that holds how far the
// pod's log was copied into it, so a restart repeats no line.
func (f *podFollow) positionPath() string { return f.logPath + ".pod-position" }

// podPosition is the stored position with the pod whose log it is in: a
// reschedule-mode sensor's pokes share the try's log, each from a pod of
// its own, and a pod never starts from another's position.
type podPosition struct {
	Pod string `json:"pod,omitempty"`
	kube.LogPosition
}

func (f *podFollow) loadPosition() kube.LogPosition {
	var p podPosition
	if b, err := os.ReadFile(f.positionPath()); err == nil {
		_ = json.Unmarshal(b, &p)
	}
	if p.Pod != "" && p.Pod != f.t.h.Name {
		return kube.LogPosition{} // a previous poke's pod
	}
	return p.LogPosition
}

// savePosition stores the position after lines were copied: at most
// every saveEvery while the log flows, and saveEvery after the last line
// at the latest (a trailing save), so a restart repeats only the lines of
// the last second before it. The file is replaced whole.
func (f *podFollow) savePosition(p kube.LogPosition) {
	f.posMu.Lock()
	defer f.posMu.Unlock()
	f.pos = p
	if since := time.Since(f.savedAt); f.flowing && since < saveEvery {
		if f.posTimer == nil {
			f.posTimer = time.AfterFunc(saveEvery-since, func() {
				f.posMu.Lock()
				defer f.posMu.Unlock()
				f.posTimer = nil
				f.writePosition()
			})
		}
		return
	}
	f.writePosition()
}

// stopSaving stops the trailing save and stores the last position.
func (f *podFollow) stopSaving() {
	f.posMu.Lock()
	defer f.posMu.Unlock()
	f.flowing = false
	if f.posTimer != nil {
		f.posTimer.Stop()
		f.posTimer = nil
	}
	f.writePosition()
}

// writePosition writes f.pos; posMu is held.
func (f *podFollow) writePosition() {
	b, err := json.Marshal(podPosition{Pod: f.t.h.Name, LogPosition: f.pos})
	if err != nil || f.pos.IsZero() {
		return
	}
	f.savedAt = time.Now()
	tmp := f.positionPath() + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, f.positionPath())
	}
}
