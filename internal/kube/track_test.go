package kube

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestTrackerBacksOffEmptyWatches: a watch the apiserver (or a proxy)
// ends at once, without any event, is opened again after a pause that
// grows, not in a busy loop hammering the apiserver.
func TestTrackerBacksOffEmptyWatches(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "1"}})
	var watches atomic.Int64
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		watches.Add(1)
		return true, watch.NewEmptyWatch(), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tr := &Tracker{Pods: cs.CoreV1().Pods("ns"), Name: "p"}
	n := 0
	for u := range tr.Watch(ctx, nil) {
		if u.Gone || u.Pod == nil || u.Pod.Name != "p" {
			t.Errorf("update %+v", u)
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d updates of one unchanged pod", n)
	}
	if w := watches.Load(); w > 20 || w < 2 {
		t.Errorf("%d watches opened in a second", w)
	}
}
