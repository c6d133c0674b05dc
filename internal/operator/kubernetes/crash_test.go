package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// errKilled is what a frozen try's saves answer once the test lets it go.
var errKilled = errors.New("this Sirocco was killed")

// freezer is the store of a try that Sirocco's kill -9 ends at its n-th
// handle save: that save (committed, or lost with the process) and all
// after it block, as if the process were gone, until release.
type freezer struct {
	n         int
	committed bool
	frozen    chan struct{} // closed when the n-th save is reached
	released  chan struct{}

	mu    sync.Mutex
	saves int
	last  []byte // the last handle the store holds
	all   [][]byte
}

func newFreezer(n int, committed bool) *freezer {
	return &freezer{n: n, committed: committed, frozen: make(chan struct{}), released: make(chan struct{})}
}

func (f *freezer) save(_ context.Context, h []byte) error {
	f.mu.Lock()
	f.saves++
	n := f.saves
	if n < f.n || n == f.n && f.committed {
		f.last = append([]byte(nil), h...)
	}
	if n <= f.n {
		f.all = append(f.all, append([]byte(nil), h...))
	}
	f.mu.Unlock()
	if n < f.n {
		return nil
	}
	if n == f.n {
		close(f.frozen)
	}
	<-f.released
	return errKilled
}

// podUIDs watches the try's pods from before its first create and
// records every pod created and every pod deleted.
type podUIDs struct {
	mu      sync.Mutex
	created map[types.UID]bool
	deleted map[types.UID]bool
}

func watchTryPods(t *testing.T, k *testenv.Kube, ns string, labels map[string]string) *podUIDs {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: kube.Selector(labels)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p := &podUIDs{created: map[types.UID]bool{}, deleted: map[types.UID]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			p.mu.Lock()
			p.created[pod.UID] = true
			if ev.Type == watch.Deleted {
				p.deleted[pod.UID] = true
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return p
}

// testKilledAtEachSave: Sirocco killed (kill -9) at each handle save of
// a pod try, the save committed or lost, then restarted: the try is
// resumed from the handle the store holds (run afresh when it holds
// none), ends right, and one pod was created for it in all, deleted at
// the end (on_finish_action delete_pod). A try saves its handle three
// times: the name before the create, the UID a second after it (the pod
// runs 3 s), the end before the delete.
func testKilledAtEachSave(t *testing.T, k *testenv.Kube) {
	for n := 1; n <= 3; n++ {
		for _, committed := range []bool{false, true} {
			t.Run(fmt.Sprintf("save %d committed %v", n, committed), func(t *testing.T) {
				t.Parallel()
				killedAtSave(t, k, n, committed)
			})
		}
	}
}

// testDeletedWhileDown: Sirocco killed after the create, before the UID
// was stored, and the pod deleted by someone else while it was down: the
// resume sees the pod's events since the create was sent and fails the
// try, rather than creating a second pod.
func testDeletedWhileDown(t *testing.T, k *testenv.Kube) {
	ns := k.Namespace(t)
	first := newTry(t, k, ns, "deleted", map[string]any{"annotations": map[string]any{hold: "true"}})
	pods := watchTryPods(t, k, ns, kube.TryLabels(first.task.DagID, first.task.TaskID, first.task.RunID, first.task.TryNumber))
	f := newFreezer(2, false)
	first.task.SaveHandle = f.save
	ctx, cancel := context.WithCancelCause(context.Background())
	done := first.start(ctx)
	first.waitLog(t, "is Running")
	<-f.frozen
	defer func() {
		cancel(operator.ErrDetach)
		close(f.released)
		_ = wait(t, done)
	}()
	f.mu.Lock()
	stored := f.last
	f.mu.Unlock()
	h, err := decodeHandle(stored)
	if err != nil || h.UID != "" {
		t.Fatalf("stored handle %+v (%v), want the one without a UID", h, err)
	}
	zero := int64(0)
	if err := k.Client.CoreV1().Pods(ns).Delete(context.Background(), h.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the pod gone", time.Minute, func() (bool, string) {
		n := len(k.Pods(t, ns, ""))
		return n == 0, fmt.Sprintf("%d pods", n)
	})
	again := newTry(t, k, ns, "deleted", nil)
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	_, err = Recoverer{}.Resume(rctx, again.task, stored)
	if !errors.Is(err, ErrPodGone) || !strings.Contains(err.Error(), "its events say so") {
		t.Fatalf("Resume: %v, want ErrPodGone\n%s", err, again.log)
	}
	pods.mu.Lock()
	defer pods.mu.Unlock()
	if len(pods.created) != 1 {
		t.Errorf("%d pods created for the try, want 1: %v", len(pods.created), pods.created)
	}
}

func killedAtSave(t *testing.T, k *testenv.Kube, n int, committed bool) {
	ns := k.Namespace(t)
	args := map[string]any{"annotations": map[string]any{runFor: "3s"}}
	first := newTry(t, k, ns, "crashes", args)
	pods := watchTryPods(t, k, ns, kube.TryLabels(first.task.DagID, first.task.TaskID, first.task.RunID, first.task.TryNumber))
	f := newFreezer(n, committed)
	first.task.SaveHandle = f.save
	ctx, cancel := context.WithCancelCause(context.Background())
	done := first.start(ctx)
	select {
	case <-f.frozen:
	case err := <-done:
		t.Fatalf("the try ended (%v) before its save %d:\n%s", err, n, first.log)
	case <-time.After(2 * time.Minute):
		t.Fatalf("no save %d:\n%s", n, first.log)
	}
	defer func() {
		// The killed process is gone for good: let its goroutines end
		// without it doing anything more of the try.
		cancel(operator.ErrDetach)
		close(f.released)
		_ = wait(t, done)
	}()

	f.mu.Lock()
	stored, all := f.last, f.all
	f.mu.Unlock()
	again := newTry(t, k, ns, "crashes", args)
	var err error
	if stored == nil {
		_, err = Operator{}.Execute(context.Background(), again.task)
	} else {
		_, err = Recoverer{}.Resume(context.Background(), again.task, stored)
	}
	if err != nil {
		t.Fatalf("after the restart: %v\nfirst log:\n%s\nrestart's log:\n%s", err, first.log, again.log)
	}
	final, err := decodeHandle(stored)
	if hs := again.handles(t); len(hs) > 0 {
		final, err = hs[len(hs)-1], nil
	}
	if err != nil || final.End == nil || !final.End.Succeeded || final.UID == "" {
		t.Errorf("the last handle stored holds the end and the UID: %+v (%v)", final, err)
	}
	testenv.Eventually(t, "the try's pod created once and deleted", time.Minute, func() (bool, string) {
		pods.mu.Lock()
		defer pods.mu.Unlock()
		return len(pods.created) == 1 && len(pods.deleted) == 1,
			fmt.Sprintf("pods created %v, deleted %v\nfirst log:\n%s\nrestart's log:\n%s", pods.created, pods.deleted, first.log, again.log)
	})
	checkSaves(t, n, all)
}

// checkSaves checks what the killed try had stored up to its n-th save:
// the name without a UID, then the UID, then the end.
func checkSaves(t *testing.T, n int, all [][]byte) {
	t.Helper()
	if len(all) != n {
		t.Fatalf("%d saves, want %d", len(all), n)
	}
	for i, b := range all {
		h, err := decodeHandle(b)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("uid %v end %v", h.UID != "", h.End != nil)
		want := []string{"uid false end false", "uid true end false", "uid true end true"}[i]
		if got != want {
			t.Errorf("save %d: %s, want %s (%s)", i+1, got, want, strings.TrimSpace(string(b)))
		}
	}
}

// checkSpacing checks that a try stored its handle no more often than
// saveEvery while its pod ran: after the name (before the create), a
// save comes saveEvery after the one before it, or is the end's.
func checkSpacing(t *testing.T, tr *try) {
	t.Helper()
	hs := tr.handles(t)
	tr.mu.Lock()
	ats := append([]time.Time(nil), tr.ats...)
	tr.mu.Unlock()
	for i := 1; i < len(hs); i++ {
		if gap := ats[i].Sub(ats[i-1]); hs[i].End == nil && gap < saveEvery-50*time.Millisecond {
			t.Errorf("handle %d stored %s after the one before (UID %q): saves come at most every %s, or with the end", i+1, gap, hs[i].UID, saveEvery)
		}
	}
}
