package kubeexec

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// HandleKind is the kind of the handle a try claimed for a worker pod
// stores.
const HandleKind = "kubernetes_worker_pod"

// handleVersion is the format of Handle.
const handleVersion = 1

// Handle names a try's worker pod. It is stored with the claim, before
// the pod is created, so that a restart finds the pod instead of creating
// another. The operator that runs inside the pod may save a handle of its
// own (a Spark driver): it is kept in Task, and the row keeps naming the
// pod.
type Handle struct {
	Kind      string `json:"kind"`
	Version   int    `json:"version"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Created is set once the create was answered: a pod not found after
	// that was deleted, never to be created again.
	Created bool `json:"created,omitempty"`
	// Task is the handle the task's operator saved inside the pod.
	Task json.RawMessage `json:"task,omitempty"`
}

// IsHandle reports whether a stored handle names a worker pod.
func IsHandle(b []byte) bool {
	kind, _, err := operator.HandleKind(b)
	return err == nil && kind == HandleKind
}

// DecodeHandle reads and checks a stored handle: a damaged one must not
// point a delete anywhere.
func DecodeHandle(b []byte) (Handle, error) {
	kind, version, err := operator.HandleKind(b)
	if err != nil {
		return Handle{}, err
	}
	if kind != HandleKind || version != handleVersion {
		return Handle{}, fmt.Errorf("decode worker pod handle: kind %q version %d, want %q version %d", kind, version, HandleKind, handleVersion)
	}
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("decode worker pod handle: %w", err)
	}
	h.Version = version
	var errs []error
	if err := kube.CheckNamespace(h.Namespace); err != nil {
		errs = append(errs, err)
	}
	if err := kube.CheckPodName(h.Name); err != nil {
		errs = append(errs, fmt.Errorf("name %q: %w", h.Name, err))
	}
	if err := errors.Join(errs...); err != nil {
		return Handle{}, fmt.Errorf("decode worker pod handle: %w", err)
	}
	return h, nil
}

// Encode is the handle's stored form.
func (h Handle) Encode() []byte {
	b, err := json.Marshal(h)
	if err != nil {
		panic("kubeexec: marshal handle: " + err.Error()) // plain fields: cannot fail
	}
	return b
}

// where names the pod for messages.
func (h Handle) where() string { return h.Namespace + "/" + h.Name }

// Wrapper returns what a try running in the pod of handle b uses as
// Runner.WrapHandle: the operator's handle goes inside the pod's.
func Wrapper(b []byte) (func([]byte) ([]byte, error), error) {
	h, err := DecodeHandle(b)
	if err != nil {
		return nil, err
	}
	return func(task []byte) ([]byte, error) {
		if !json.Valid(task) {
			return nil, errors.New("the operator's handle is not JSON")
		}
		h.Task = append(json.RawMessage(nil), task...)
		return h.Encode(), nil
	}, nil
}

// ExitEndedElsewhere is the exit code of a worker pod's `sirocco tasks
// run` whose try was not its to end: refused (not claimed for the pod) or
// ended elsewhere while it ran (marked, cleared). The executor deletes
// such a pod whatever delete_worker_pods says: its failure is not the
// task's, and nothing in it is worth keeping.
const ExitEndedElsewhere = 75

// PodWorkerID is the worker id of the try running in pod namespace/name:
// the worker that takes a claimed try over (executor.PodTry).
func PodWorkerID(namespace, name string) string { return "pod:" + namespace + "/" + name }

// ClaimedFor returns the check that a try's row names the worker pod
// namespace/name (executor.PodTry.Claimed).
func ClaimedFor(namespace, name string) func(b []byte) error {
	return func(b []byte) error {
		h, err := DecodeHandle(b)
		if err != nil {
			return fmt.Errorf("its handle does not name a worker pod: %w", err)
		}
		if h.Namespace != namespace || h.Name != name {
			return fmt.Errorf("it is claimed for worker pod %s, not %s/%s", h.where(), namespace, name)
		}
		return nil
	}
}
