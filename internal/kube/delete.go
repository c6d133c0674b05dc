package kube

import (
	"context"
	"fmt"
	"math"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// deleteMargin is added to the grace period while a deleted pod is
// awaited: the kubelet's own stop, and the API's round trips.
const deleteMargin = 10 * time.Second

// DeleteOutcome says how a pod went away.
type DeleteOutcome string

// Delete outcomes.
const (
	DeleteGone   DeleteOutcome = "gone"   // it was not there (or another pod has its name)
	DeleteGraced DeleteOutcome = "graced" // it went within its grace period
	DeleteForced DeleteOutcome = "forced" // it outlived the grace and was deleted with grace 0
)

// Describe says how the pod went, for a task log.
func (o DeleteOutcome) Describe() string {
	switch o {
	case DeleteGone:
		return "it was already gone"
	case DeleteGraced:
		return "deleted within its grace period"
	case DeleteForced:
		return "it outlived its grace period and was deleted with grace 0"
	}
	return string(o)
}

// DeletePod deletes pod name (only the one of uid, when set): with grace,
// then, if it is still there after grace and a margin, with grace 0, and
// waits until it is gone. ctx bounds the whole; an error means the pod may
// still exist.
func DeletePod(ctx context.Context, pods PodInterface, name string, uid types.UID, grace time.Duration) (DeleteOutcome, error) {
	gone, err := deleteOnce(ctx, pods, name, uid, grace)
	if err != nil || gone {
		return DeleteGone, err
	}
	if awaitGone(ctx, pods, name, uid, grace+deleteMargin) {
		return DeleteGraced, nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("delete pod %s: %w", name, ctx.Err())
	}
	if _, err := deleteOnce(ctx, pods, name, uid, 0); err != nil {
		return "", err
	}
	if awaitGone(ctx, pods, name, uid, deleteMargin) {
		return DeleteForced, nil
	}
	return "", fmt.Errorf("pod %s is still there after a forced delete", name)
}

// RequestDelete asks the apiserver to delete the pod with grace, without
// waiting for it to go (on_finish_action of a pod that ended). A pod
// already gone is no error.
func RequestDelete(ctx context.Context, pods PodInterface, name string, uid types.UID, grace *time.Duration) error {
	opts := metav1.DeleteOptions{}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	if grace != nil {
		opts.GracePeriodSeconds = seconds(*grace)
	}
	err := pods.Delete(ctx, name, opts)
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("delete pod %s: %w", name, err)
}

// deleteOnce sends one delete; gone reports a pod already gone (or
// replaced: the UID precondition failed).
func deleteOnce(ctx context.Context, pods PodInterface, name string, uid types.UID, grace time.Duration) (bool, error) {
	opts := metav1.DeleteOptions{GracePeriodSeconds: seconds(grace)}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	var b backoff
	for {
		err := pods.Delete(ctx, name, opts)
		switch {
		case err == nil:
			return false, nil
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			return true, nil
		}
		if ctx.Err() != nil || !retriable(err) {
			return false, fmt.Errorf("delete pod %s: %w", name, err)
		}
		wait, _ := b.failed()
		if !sleep(ctx, wait) {
			return false, fmt.Errorf("delete pod %s: %w", name, err)
		}
	}
}

// awaitGone waits up to limit for the pod to be gone, by watching it.
func awaitGone(ctx context.Context, pods PodInterface, name string, uid types.UID, limit time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tr := &Tracker{Pods: pods, Name: name, UID: uid}
	for u := range tr.Watch(wctx, nil) {
		if u.Gone {
			return true
		}
	}
	return false
}

// retriable reports an error worth another try: the apiserver could not
// be reached or was busy, as opposed to an answer that will not change.
func retriable(err error) bool {
	if apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) {
		return true
	}
	var se apierrors.APIStatus
	return !asAPIStatus(err, &se)
}

// Retriable reports whether err (from a call to the apiserver) is worth
// another try: the apiserver was unreachable, busy or restarting.
func Retriable(err error) bool { return retriable(err) }

func seconds(d time.Duration) *int64 {
	s := int64(math.Ceil(d.Seconds()))
	return &s
}
