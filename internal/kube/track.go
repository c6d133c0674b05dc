package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// watchTimeout is how long one watch request lasts before the apiserver
// ends it and the tracker opens the next from the last resourceVersion.
const watchTimeout = 5 * time.Minute

// Update is one observation of a tracked pod: its new state, or that it
// is gone (deleted, or replaced by another pod of the same name).
type Update struct {
	// Pod is the new state; with Gone, the last state the deletion
	// showed (nil when unknown).
	Pod  *corev1.Pod
	Gone bool
}

// Tracker follows one pod through a watch that resumes from the last
// resourceVersion it saw: a watch the apiserver ends, a dropped
// connection and an apiserver restart are survived, and an expired
// version (410 Gone) is replaced by one read of the pod. Nothing polls.
type Tracker struct {
	Pods PodInterface
	Name string
	// UID, when set, is the pod's: a pod of the same name with another
	// UID is not it, and means it is gone.
	UID types.UID
	// OnRetry is told when the apiserver cannot be reached and when the
	// tracker tries again (nil: silent).
	OnRetry func(err error, wait time.Duration)
}

// Watch sends every new state of the pod, starting with from (or one read
// of the pod when from is nil), until the pod is gone (the last update),
// or ctx ends. The channel is closed when it stops.
func (tr *Tracker) Watch(ctx context.Context, from *corev1.Pod) <-chan Update {
	out := make(chan Update)
	go func() {
		defer close(out)
		tr.run(ctx, from, out)
	}()
	return out
}

// trackState is what the tracker knows between watches.
type trackState struct {
	rv   string // last resourceVersion seen
	sent string // resourceVersion of the last pod sent
}

func (tr *Tracker) run(ctx context.Context, from *corev1.Pod, out chan<- Update) {
	var st trackState
	send := func(u Update) bool {
		if u.Pod != nil && !u.Gone {
			if u.Pod.ResourceVersion == st.sent {
				return true
			}
			st.sent = u.Pod.ResourceVersion
		}
		select {
		case out <- u:
			return !u.Gone
		case <-ctx.Done():
			return false
		}
	}
	if from != nil && (tr.UID == "" || from.UID == tr.UID) {
		st.rv = from.ResourceVersion
		if !send(Update{Pod: from}) {
			return
		}
	}
	var b backoff
	for ctx.Err() == nil {
		if st.rv == "" {
			u, err := tr.read(ctx)
			if err != nil {
				if !tr.pause(ctx, &b, fmt.Errorf("read pod %s: %w", tr.Name, err)) {
					return
				}
				continue
			}
			b.ok()
			if u.Pod != nil {
				st.rv = u.Pod.ResourceVersion
			}
			if !send(u) {
				return
			}
			continue
		}
		progressed, err := tr.watchOnce(ctx, &st, send)
		if progressed {
			b.ok()
		}
		if err == nil {
			// The apiserver ended the watch: open the next, after a
			// growing pause if it brought nothing (a watch ended at once,
			// again and again, must not become a busy loop).
			if !progressed {
				wait, _ := b.failed()
				if !sleep(ctx, wait) {
					return
				}
			}
			continue
		}
		if errors.Is(err, errStop) || ctx.Err() != nil {
			return
		}
		if isExpired(err) {
			st.rv = "" // read the pod again, then watch from its version
			continue
		}
		if !tr.pause(ctx, &b, fmt.Errorf("watch pod %s: %w", tr.Name, err)) {
			return
		}
	}
}

// errStop ends the tracker: the pod is gone or ctx ended while sending.
var errStop = errors.New("stop tracking")

// watchOnce runs one watch from st.rv, sending what it sees. It returns
// nil when the watch ended normally, and whether anything arrived.
func (tr *Tracker) watchOnce(ctx context.Context, st *trackState, send func(Update) bool) (bool, error) {
	timeout := int64(watchTimeout / time.Second)
	w, err := tr.Pods.Watch(ctx, metav1.ListOptions{
		FieldSelector:       fields.OneTermEqualSelector("metadata.name", tr.Name).String(),
		ResourceVersion:     st.rv,
		AllowWatchBookmarks: true,
		TimeoutSeconds:      &timeout,
	})
	if err != nil {
		return false, err
	}
	defer w.Stop()
	progressed := false
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return progressed, ctx.Err()
		case ev, ok = <-w.ResultChan():
		}
		if !ok {
			return progressed, nil
		}
		progressed = true
		switch ev.Type {
		case watch.Error:
			return progressed, apierrors.FromObject(ev.Object)
		case watch.Bookmark:
			if m, err := metaOf(ev.Object); err == nil {
				st.rv = m.GetResourceVersion()
			}
			continue
		}
		pod, isPod := ev.Object.(*corev1.Pod)
		if !isPod {
			continue
		}
		st.rv = pod.ResourceVersion
		if tr.UID != "" && pod.UID != tr.UID {
			// Another pod took the name: ours was deleted before this
			// watch started.
			send(Update{Gone: true})
			return progressed, errStop
		}
		if ev.Type == watch.Deleted {
			send(Update{Pod: pod, Gone: true})
			return progressed, errStop
		}
		if !send(Update{Pod: pod}) {
			return progressed, errStop
		}
	}
}

// read gets the pod once: its state, or Gone when it does not exist.
func (tr *Tracker) read(ctx context.Context) (Update, error) {
	pod, err := tr.Pods.Get(ctx, tr.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Update{Gone: true}, nil
	}
	if err != nil {
		return Update{}, err
	}
	if tr.UID != "" && pod.UID != tr.UID {
		return Update{Gone: true}, nil
	}
	return Update{Pod: pod}, nil
}

// pause reports a failure (now and then) and waits before the next try;
// false when ctx ended.
func (tr *Tracker) pause(ctx context.Context, b *backoff, err error) bool {
	wait, report := b.failed()
	if report && tr.OnRetry != nil {
		tr.OnRetry(err, wait)
	}
	return sleep(ctx, wait)
}

// isExpired reports a resourceVersion the apiserver no longer has.
func isExpired(err error) bool {
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return true
	}
	var se apierrors.APIStatus
	return errors.As(err, &se) && se.Status().Code == http.StatusGone
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	return m, nil
}
