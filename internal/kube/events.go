package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

// maxEvents bounds the events quoted in a failure.
const maxEvents = 5

// WarningEvents returns the pod's Warning events, oldest first, as
// "Reason: message" lines (with the count when it repeated), at most the
// last few: the reasons a pod did not start (FailedScheduling,
// FailedMount, Failed to pull image ...).
func WarningEvents(ctx context.Context, cs Interface, namespace, name string, uid types.UID) ([]string, error) {
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": name}
	if uid != "" {
		sel["involvedObject.uid"] = string(uid)
	}
	list, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return nil, fmt.Errorf("list the events of pod %s: %w", name, err)
	}
	evs := slices.DeleteFunc(list.Items, func(e corev1.Event) bool { return e.Type != corev1.EventTypeWarning })
	slices.SortStableFunc(evs, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b).Time) })
	if len(evs) > maxEvents {
		evs = evs[len(evs)-maxEvents:]
	}
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		s := e.Reason + ": " + strings.TrimSpace(e.Message)
		if n := max(e.Count, seriesCount(e)); n > 1 {
			s += fmt.Sprintf(" (x%d)", n)
		}
		out = append(out, s)
	}
	return out, nil
}

func eventTime(e corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.CreationTimestamp
}

func seriesCount(e corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return 0
}

func asAPIStatus(err error, se *apierrors.APIStatus) bool { return errors.As(err, se) }

// PodEventsSince reports whether events about a pod named name were
// recorded in namespace at or after since (by the apiserver's clock,
// less a minute for the skew between it and ours): a pod of that name
// existed then, even if it is gone now. Events live an hour by default,
// so an older pod may leave none.
func PodEventsSince(ctx context.Context, cs Interface, namespace, name string, since time.Time) (bool, error) {
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": name}
	list, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return false, fmt.Errorf("list the events of pod %s: %w", name, err)
	}
	from := since.Add(-clockSkew)
	for _, e := range list.Items {
		if !e.CreationTimestamp.Time.Before(from) || !eventTime(e).Time.Before(from) {
			return true, nil
		}
	}
	return false, nil
}

// clockSkew is how far the apiserver's clock may be behind ours.
const clockSkew = time.Minute
