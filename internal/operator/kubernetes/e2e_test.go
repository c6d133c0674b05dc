package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// The pod behaviour annotations of the test bed (k8s-contract).
const (
	runFor        = "kwok.sirocco.dev/run-for"
	exitCode      = "kwok.sirocco.dev/exit-code"
	hold          = "kwok.sirocco.dev/hold"
	waitingReason = "kwok.sirocco.dev/waiting-reason"
)

// try is one try of a kubernetes_pod task against the test bed: its task,
// log and the handles it stored.
type try struct {
	done chan error // Execute's result, when started in the background
	k    *testenv.Kube
	ns   string
	task *operator.Task
	log  *testenv.SyncBuffer
	mu   sync.Mutex
	hs   [][]byte
	ats  []time.Time // when each handle was stored
}

func newTry(t *testing.T, k *testenv.Kube, ns, taskID string, args map[string]any) *try {
	tr := &try{k: k, ns: ns, log: &testenv.SyncBuffer{}}
	full := map[string]any{"image": "busybox", "kubernetes_conn_id": "k8s", "startup_timeout_seconds": 60}
	for key, v := range args {
		full[key] = v
	}
	conn := connection.Connection{ID: "k8s", Type: "kubernetes", Extra: map[string]string{"kube_config_path": k.Kubeconfig, "namespace": ns}}
	tr.task = &operator.Task{
		DagID: "dag", RunID: "manual__2026-01-01T00:00:00+00:00", TaskID: taskID, TryNumber: 1,
		Args: full, Log: tr.log, KillGrace: 2 * time.Second,
		CtxEnv: map[string]string{"SIROCCO_CTX_TASK_ID": taskID},
		Connection: func(_ context.Context, id string) (connection.Connection, error) {
			if id != "k8s" {
				return connection.Connection{}, errors.New("connection " + id + " not found")
			}
			return conn, nil
		},
		Mask: func(string) {},
		SaveHandle: func(_ context.Context, h []byte) error {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.hs = append(tr.hs, append([]byte(nil), h...))
			tr.ats = append(tr.ats, time.Now())
			return nil
		},
	}
	return tr
}

func (tr *try) handles(t *testing.T) []Handle {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]Handle, 0, len(tr.hs))
	for _, b := range tr.hs {
		h, err := decodeHandle(b)
		if err != nil {
			t.Fatalf("stored handle %s: %v", b, err)
		}
		out = append(out, h)
	}
	return out
}

func (tr *try) lastHandle(t *testing.T) []byte {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.hs) == 0 {
		t.Fatal("no handle stored")
	}
	return tr.hs[len(tr.hs)-1]
}

// pods lists the pods carrying the try's labels, through the apiserver.
func (tr *try) pods(t *testing.T) int {
	t.Helper()
	l := kube.TryLabels(tr.task.DagID, tr.task.TaskID, tr.task.RunID, tr.task.TryNumber)
	return len(tr.k.Pods(t, tr.ns, kube.Selector(l)))
}

// waitLog waits for the try's log to hold s; a try started in the
// background that ends first fails t.
func (tr *try) waitLog(t *testing.T, s string) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%q in the task log", s), time.Minute, func() (bool, string) {
		if tr.done != nil {
			select {
			case err := <-tr.done:
				t.Fatalf("the try ended (%v) before %q was in its log:\n%s", err, s, tr.log)
			default:
			}
		}
		return strings.Contains(tr.log.String(), s), tr.log.String()
	})
}

// start runs Execute in the background.
func (tr *try) start(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	tr.done = done
	go func() {
		_, err := Operator{}.Execute(ctx, tr.task)
		done <- err
	}()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Minute):
		t.Fatal("the try did not end")
		return nil
	}
}

// TestPodsOnTheAPIServer runs kubernetes_pod tries against a real
// kube-apiserver, kube-scheduler and kwok.
func TestPodsOnTheAPIServer(t *testing.T) {
	k := testenv.StartKube(t)
	t.Run("pods", func(t *testing.T) {
		t.Run("success", func(t *testing.T) { t.Parallel(); testSuccess(t, k) })
		t.Run("exit code", func(t *testing.T) { t.Parallel(); testExitCode(t, k) })
		t.Run("image pull error", func(t *testing.T) { t.Parallel(); testImagePull(t, k) })
		t.Run("unschedulable", func(t *testing.T) { t.Parallel(); testUnschedulable(t, k) })
		t.Run("startup timeout", func(t *testing.T) { t.Parallel(); testStartupTimeout(t, k) })
		t.Run("cancel deletes", func(t *testing.T) { t.Parallel(); testCancel(t, k, false) })
		t.Run("timeout deletes", func(t *testing.T) { t.Parallel(); testCancel(t, k, true) })
		t.Run("deleted by someone else", func(t *testing.T) { t.Parallel(); testDeletedElsewhere(t, k) })
		t.Run("logs", func(t *testing.T) { t.Parallel(); testLogs(t, k) })
		t.Run("detach and resume", func(t *testing.T) { t.Parallel(); testDetachResume(t, k) })
		t.Run("lost create answer", func(t *testing.T) { t.Parallel(); testLostCreate(t, k) })
		t.Run("stop", func(t *testing.T) { t.Parallel(); testStop(t, k) })
		t.Run("name taken", func(t *testing.T) { t.Parallel(); testNameTaken(t, k) })
		t.Run("name taken before a restart", func(t *testing.T) { t.Parallel(); testNameTakenResume(t, k) })
		t.Run("killed at each save", func(t *testing.T) { t.Parallel(); testKilledAtEachSave(t, k) })
		t.Run("deleted while Sirocco was down", func(t *testing.T) { t.Parallel(); testDeletedWhileDown(t, k) })
	})
	t.Run("apiserver restart", func(t *testing.T) { testAPIServerRestart(t, k) })
}

// testSuccess: the pod is created with the try's labels, its name stored
// before the create and its UID after; it succeeds and is deleted
// (on_finish_action delete_pod).
func testSuccess(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "hello", map[string]any{"name": "hello-pod", "labels": map[string]any{"team": "data"}})
	res, err := Operator{}.Execute(context.Background(), tr.task)
	if err != nil {
		t.Fatalf("Execute: %v\n%s", err, tr.log)
	}
	if res.ReturnValue != nil || res.ReturnJSON != nil {
		t.Errorf("return value %+v without do_xcom_push", res)
	}
	hs := tr.handles(t)
	if len(hs) < 2 || hs[0].UID != "" || !strings.HasPrefix(hs[0].Name, "hello-pod-") || hs[1].UID == "" || hs[1].Name != hs[0].Name {
		t.Errorf("handles: the name first, then the UID: %+v", hs)
	}
	checkSpacing(t, tr)
	if end := hs[len(hs)-1].End; end == nil || !end.Succeeded {
		t.Errorf("the last handle holds the end: %+v", end)
	}
	for _, s := range []string{"created (uid", "succeeded", "deleted (on_finish_action delete_pod)"} {
		if !strings.Contains(tr.log.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, tr.log)
		}
	}
	testenv.Eventually(t, "the pod deleted", time.Minute, func() (bool, string) {
		n := tr.pods(t)
		return n == 0, fmt.Sprintf("%d pods", n)
	})
}

// testExitCode: the container's exit code fails the try, naming it; with
// skip_on_exit_code the try is skipped; on_finish_action
// delete_succeeded_pod keeps the failed pod.
func testExitCode(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "fails", map[string]any{"annotations": map[string]any{exitCode: "3"}, "on_finish_action": DeleteSucceededPod})
	_, err := Operator{}.Execute(context.Background(), tr.task)
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") || errors.Is(err, operator.ErrSkip) {
		t.Fatalf("err %v\n%s", err, tr.log)
	}
	if n := tr.pods(t); n != 1 {
		t.Errorf("%d pods, want the failed one kept", n)
	}
	sk := newTry(t, k, ns, "skips", map[string]any{"annotations": map[string]any{exitCode: "99"}, "skip_on_exit_code": []any{99}})
	if _, err := (Operator{}).Execute(context.Background(), sk.task); !errors.Is(err, operator.ErrSkip) {
		t.Errorf("skip_on_exit_code: err %v", err)
	}
}

// testImagePull: an image that cannot be pulled fails the try at once
// with the reason, and the pod is deleted.
func testImagePull(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "pull", map[string]any{"annotations": map[string]any{waitingReason: "ErrImagePull"}, "on_finish_action": KeepPod})
	start := time.Now()
	_, err := Operator{}.Execute(context.Background(), tr.task)
	if err == nil || !strings.Contains(err.Error(), "cannot be pulled: ErrImagePull: ErrImagePull (kwok test bed)") {
		t.Fatalf("err %v\n%s", err, tr.log)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s: an image pull error fails at once, not at the startup timeout", d)
	}
	testenv.Eventually(t, "the pod deleted (given up on, whatever on_finish_action)", time.Minute, func() (bool, string) {
		n := tr.pods(t)
		return n == 0, fmt.Sprintf("%d pods", n)
	})
}

// testUnschedulable: a pod no node fits fails after the schedule timeout
// with the scheduler's reason.
func testUnschedulable(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "nowhere", map[string]any{"node_selector": map[string]any{"disk": "none"}, "startup_timeout_seconds": 3})
	_, err := Operator{}.Execute(context.Background(), tr.task)
	if err == nil || !strings.Contains(err.Error(), "not scheduled within 3s") || !strings.Contains(err.Error(), "node(s) didn't match") {
		t.Fatalf("err %v\n%s", err, tr.log)
	}
	testenv.Eventually(t, "the pod deleted", time.Minute, func() (bool, string) {
		n := tr.pods(t)
		return n == 0, fmt.Sprintf("%d pods", n)
	})
}

// testStartupTimeout: a scheduled pod that does not start fails after
// startup_timeout_seconds, saying why it waits.
func testStartupTimeout(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "stuck", map[string]any{"annotations": map[string]any{waitingReason: "CreateContainerConfigError"},
		"startup_timeout_seconds": 2, "schedule_timeout_seconds": 60})
	_, err := Operator{}.Execute(context.Background(), tr.task)
	if err == nil || !strings.Contains(err.Error(), "did not start within 2s of being scheduled") ||
		!strings.Contains(err.Error(), "CreateContainerConfigError") {
		t.Fatalf("err %v\n%s", err, tr.log)
	}
}

// testCancel: a cancel (or execution_timeout) deletes the running pod:
// none is left, listed through the apiserver.
func testCancel(t *testing.T, k *testenv.Kube, timeout bool) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "held", map[string]any{"annotations": map[string]any{hold: "true"}})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := tr.start(ctx)
	tr.waitLog(t, "is Running")
	cause := errors.New("cancelled by the test")
	if timeout {
		cause = context.DeadlineExceeded
	}
	cancel(cause)
	err := wait(t, done)
	if !errors.Is(err, cause) {
		t.Errorf("err %v, want %v", err, cause)
	}
	if n := tr.pods(t); n != 0 {
		t.Errorf("%d pods left after the cancel\n%s", n, tr.log)
	}
}

// testDeletedElsewhere: a pod deleted by someone else fails the try,
// saying so.
func testDeletedElsewhere(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "victim", map[string]any{"annotations": map[string]any{hold: "true"}})
	done := tr.start(context.Background())
	tr.waitLog(t, "is Running")
	h := tr.handles(t)[0]
	if err := k.Client.CoreV1().Pods(ns).Delete(context.Background(), h.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait(t, done)
	if !errors.Is(err, ErrPodGone) || !strings.Contains(err.Error(), "deleted by someone else") {
		t.Errorf("err %v\n%s", err, tr.log)
	}
}

// testLogs: the container's log streams into the task log while the pod
// runs, each line once.
func testLogs(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	file := filepath.Join(t.TempDir(), "out.log")
	k.ServeLogs(t, ns, file)
	tr := newTry(t, k, ns, "talks", map[string]any{"annotations": map[string]any{hold: "true"}})
	done := tr.start(context.Background())
	appendLines(t, file, "line 1", "line 2")
	tr.waitLog(t, "line 2")
	appendLines(t, file, "line 3")
	tr.waitLog(t, "line 3")
	h := tr.handles(t)[0]
	appendLines(t, file, "line 4")
	tr.waitLog(t, "line 4")
	if err := k.Client.CoreV1().Pods(ns).Delete(context.Background(), h.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = wait(t, done)
	for i := 1; i <= 4; i++ {
		if n := strings.Count(tr.log.String(), fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Errorf("line %d written %d times:\n%s", i, n, tr.log)
		}
	}
}

func appendLines(t *testing.T, file string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// testDetachResume: a shutdown (ErrDetach) leaves the pod running; the
// recoverer reattaches to it by its handle and the try ends right, with
// one pod for the try.
func testDetachResume(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "outlives", map[string]any{"annotations": map[string]any{runFor: "4s"}})
	ctx, cancel := context.WithCancelCause(context.Background())
	done := tr.start(ctx)
	tr.waitLog(t, "is Running")
	cancel(operator.ErrDetach)
	if err := wait(t, done); !errors.Is(err, operator.ErrDetach) {
		t.Fatalf("err %v", err)
	}
	if n := tr.pods(t); n != 1 {
		t.Fatalf("%d pods after the detach, want the running one", n)
	}
	h := tr.lastHandle(t)
	if !(Recoverer{}).CanResume(h) {
		t.Fatal("CanResume = false")
	}
	again := newTry(t, k, ns, "outlives", nil)
	again.task.Args = nil // a resume may have no fields
	if _, err := (Recoverer{}).Resume(context.Background(), again.task, h); err != nil {
		t.Fatalf("Resume: %v\n%s", err, again.log)
	}
	if !strings.Contains(again.log.String(), "reattaching to pod") {
		t.Errorf("log:\n%s", again.log)
	}
}

// testLostCreate: a resume from the handle stored before the create
// (its answer lost) finds the pod by name: one pod for the try.
func testLostCreate(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "lost", map[string]any{"annotations": map[string]any{runFor: "3s"}})
	ctx, cancel := context.WithCancelCause(context.Background())
	done := tr.start(ctx)
	tr.waitLog(t, "created (uid")
	cancel(operator.ErrDetach)
	_ = wait(t, done)
	pending := tr.handles(t)[0]
	if pending.UID != "" {
		t.Fatalf("first handle has a UID: %+v", pending)
	}
	again := newTry(t, k, ns, "lost", nil)
	if _, err := (Recoverer{}).Resume(context.Background(), again.task, pending.encode()); err != nil {
		t.Fatalf("Resume: %v\n%s", err, again.log)
	}
	if strings.Contains(again.log.String(), "creating it now") {
		t.Errorf("a second pod was created:\n%s", again.log)
	}
	// A pending handle whose create never reached the apiserver creates
	// the pod, with the stored name.
	never := newTry(t, k, ns, "never", nil)
	c, err := readConfig(never.task.Args)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandle(c, "k8s", ns, "never-created", tryIdentity{DagID: "dag", RunID: never.task.RunID, TaskID: "never", Try: 1})
	if _, err := (Recoverer{}).Resume(context.Background(), never.task, h.encode()); err != nil {
		t.Fatalf("Resume of a never created pod: %v\n%s", err, never.log)
	}
	if !strings.Contains(never.log.String(), "pod "+ns+"/never-created was never created") {
		t.Errorf("log:\n%s", never.log)
	}
}

// testStop: the recoverer's Stop deletes the try's pod; again, it finds
// nothing and says so.
func testStop(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "stopped", map[string]any{"annotations": map[string]any{hold: "true"}})
	ctx, cancel := context.WithCancelCause(context.Background())
	done := tr.start(ctx)
	tr.waitLog(t, "is Running")
	cancel(operator.ErrDetach)
	_ = wait(t, done)
	h := tr.lastHandle(t)
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := (Recoverer{}).Stop(sctx, tr.task, h); err != nil {
		t.Fatal(err)
	}
	if n := tr.pods(t); n != 0 {
		t.Errorf("%d pods after Stop", n)
	}
	if err := (Recoverer{}).Stop(sctx, tr.task, h); err != nil || !strings.Contains(tr.log.String(), "nothing to stop") {
		t.Errorf("second Stop: %v\n%s", err, tr.log)
	}
}

// testAPIServerRestart: the apiserver restarts while the pod runs; the
// watch resumes and the try still ends right, its log lines once.
func testAPIServerRestart(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	file := filepath.Join(t.TempDir(), "out.log")
	k.ServeLogs(t, ns, file)
	tr := newTry(t, k, ns, "survives", map[string]any{"annotations": map[string]any{hold: "true"}})
	done := tr.start(context.Background())
	appendLines(t, file, "before")
	tr.waitLog(t, "before")
	k.RestartAPIServer(t)
	appendLines(t, file, "after")
	// The pod ends only now, however long the restart took: "after" is
	// in its log before it ends.
	release := []byte(`{"metadata":{"annotations":{"` + hold + `":"false"}}}`)
	if _, err := k.Client.CoreV1().Pods(ns).Patch(context.Background(), tr.handles(t)[0].Name, types.MergePatchType, release, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("err %v\n%s", err, tr.log)
	}
	t.Logf("task log:\n%s", tr.log)
	for _, l := range []string{"before\n", "after\n"} {
		if n := strings.Count(tr.log.String(), l); n != 1 {
			t.Errorf("%q written %d times:\n%s", l, n, tr.log)
		}
	}
}

// testNameTaken: a pod of the chosen name that is not this try's is
// never adopted, nor deleted: the try fails at once, saying so.
func testNameTaken(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "taken", Labels: map[string]string{"app": "other"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := k.Client.CoreV1().Pods(ns).Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr := newTry(t, k, ns, "taker", map[string]any{"name": "taken", "random_name_suffix": false})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Operator{}.Execute(ctx, tr.task)
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "not this try's") || ctx.Err() != nil {
		t.Fatalf("err %v\n%s", err, tr.log)
	}
	if pods := k.Pods(t, ns, "app=other"); len(pods) != 1 {
		t.Errorf("the other pod is gone")
	}
}

// testNameTakenResume: a handle stored before the create (no UID) whose
// name is held by a pod that is not the try's (an earlier try's kept pod,
// random_name_suffix false): Stop leaves that pod alone, and Resume
// neither follows it nor takes its outcome.
func testNameTakenResume(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	tr := newTry(t, k, ns, "kept", map[string]any{"name": "kept", "random_name_suffix": false})
	earlier := kube.TryLabels(tr.task.DagID, tr.task.TaskID, tr.task.RunID, 1)
	tr.task.TryNumber = 2
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kept", Labels: earlier},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "base", Image: "busybox"}}}}
	if _, err := k.Client.CoreV1().Pods(ns).Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := readConfig(tr.task.Args)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandle(c, "k8s", ns, "kept", tryIdentity{DagID: "dag", RunID: tr.task.RunID, TaskID: "kept", Try: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := (Recoverer{}).Stop(ctx, tr.task, h.encode()); err != nil {
		t.Fatalf("Stop: %v\n%s", err, tr.log)
	}
	if pods := k.Pods(t, ns, "try_number=1"); len(pods) != 1 || pods[0].DeletionTimestamp != nil {
		t.Fatalf("Stop deleted the earlier try's pod:\n%s", tr.log)
	}
	_, err = (Recoverer{}).Resume(ctx, tr.task, h.encode())
	if err == nil || !strings.Contains(err.Error(), "not this try's") || ctx.Err() != nil {
		t.Fatalf("Resume: err %v\n%s", err, tr.log)
	}
	if pods := k.Pods(t, ns, "try_number=1"); len(pods) != 1 || pods[0].DeletionTimestamp != nil {
		t.Errorf("Resume deleted the earlier try's pod:\n%s", tr.log)
	}
}
