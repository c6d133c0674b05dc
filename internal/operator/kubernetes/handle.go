package kubernetes

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// HandleKind is the kind of the handles this operator stores.
const HandleKind = "kubernetes_pod"

// handleVersion is the format of Handle.
const handleVersion = 1

// Handle is what a kubernetes_pod try stores before it creates its pod:
// how to reach the cluster (the connection id and the task's overrides:
// no secret), the pod's namespace and name, chosen before the create so
// that a lost answer finds the same pod, its UID once created, the try's
// labels, and what decides the end (stored so that a resume without the
// task's fields ends the try the same way). The UID is stored with the
// save after the create (within saveEvery, or the end's). Once the pod ended, End holds
// the outcome before on_finish_action deletes the pod.
type Handle struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`

	ConnID     string `json:"conn_id"`
	InCluster  *bool  `json:"in_cluster,omitempty"`
	Context    string `json:"cluster_context,omitempty"`
	ConfigFile string `json:"config_file,omitempty"`

	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	UID       string            `json:"uid,omitempty"` // empty until stored after the create
	Labels    map[string]string `json:"labels"`        // the try's labels: a selector for its pods
	// CreateSent is when the create was about to be sent (zero in the
	// handles of older versions): a pod of the name with events since
	// then was created, even if it is gone now.
	CreateSent time.Time `json:"create_sent,omitzero"`

	Container       string `json:"container"`
	OnFinish        string `json:"on_finish_action"`
	GetLogs         bool   `json:"get_logs"`
	XCom            bool   `json:"do_xcom_push"`
	Skip            []int  `json:"skip_on_exit_code,omitempty"`
	Reattach        bool   `json:"reattach_on_restart"`
	LogEvents       bool   `json:"log_events_on_failure"`
	StartupTimeout  int64  `json:"startup_timeout_seconds"`
	ScheduleTimeout int64  `json:"schedule_timeout_seconds"`
	GraceSeconds    *int64 `json:"termination_grace_period,omitempty"`

	// Log is how far the container's log was written into the try's log.
	Log kube.LogPosition `json:"log"`
	// End is the try's outcome, stored once the pod ended.
	End *End `json:"end,omitempty"`
}

// End is the outcome of a pod that ended.
type End struct {
	Succeeded bool   `json:"succeeded"`
	ExitCode  *int32 `json:"exit_code,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// ReturnValue is the JSON text the container wrote to XComPath
	// (compacted), pushed as the JSON value it holds.
	ReturnValue *string `json:"return_value,omitempty"`
	// GaveUp marks a pod that never ended (it did not start): it is
	// deleted whatever on_finish_action says.
	GaveUp bool `json:"gave_up,omitempty"`
}

// encode is the handle's stored form.
func (h Handle) encode() []byte {
	b, err := json.Marshal(h)
	if err != nil {
		panic("kubernetes: marshal handle: " + err.Error()) // plain fields: cannot fail
	}
	return b
}

// overrides are the task's overrides of the connection, as stored.
func (h Handle) overrides() kube.Overrides {
	return kube.Overrides{InCluster: h.InCluster, Context: h.Context, ConfigFile: h.ConfigFile}
}

// where names the pod for messages.
func (h Handle) where() string { return h.Namespace + "/" + h.Name }

// decodeHandle reads and checks a stored handle: a damaged one must not
// point a delete anywhere.
func decodeHandle(b []byte) (Handle, error) {
	kind, version, err := operator.HandleKind(b)
	if err != nil {
		return Handle{}, err
	}
	if kind != HandleKind || version != handleVersion {
		return Handle{}, fmt.Errorf("decode kubernetes_pod handle: kind %q version %d, want %q version %d", kind, version, HandleKind, handleVersion)
	}
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("decode kubernetes_pod handle: %w", err)
	}
	h.Version = version
	if err := h.check(); err != nil {
		return Handle{}, fmt.Errorf("decode kubernetes_pod handle: %w", err)
	}
	return h, nil
}

func (h Handle) check() error {
	var errs []error
	if h.ConnID == "" {
		errs = append(errs, errors.New("no connection id"))
	}
	if err := kube.CheckNamespace(h.Namespace); err != nil {
		errs = append(errs, err)
	}
	if err := kube.CheckPodName(h.Name); err != nil {
		errs = append(errs, fmt.Errorf("name %q: %w", h.Name, err))
	}
	if err := kube.CheckLabels("labels", h.Labels); err != nil {
		errs = append(errs, err)
	}
	for _, k := range []string{kube.LabelDagID, kube.LabelTaskID, kube.LabelRunID, kube.LabelTryNumber} {
		if h.Labels[k] == "" {
			errs = append(errs, fmt.Errorf("labels lack %s", k))
		}
	}
	if _, err := strconv.Atoi(h.Labels[kube.LabelTryNumber]); err != nil && h.Labels[kube.LabelTryNumber] != "" {
		errs = append(errs, fmt.Errorf("label try_number %q is not a number", h.Labels[kube.LabelTryNumber]))
	}
	if h.Container == "" {
		errs = append(errs, errors.New("no container name"))
	}
	if !slices.Contains(onFinishActions, h.OnFinish) {
		errs = append(errs, fmt.Errorf("on_finish_action %q is not one", h.OnFinish))
	}
	if h.StartupTimeout <= 0 || h.ScheduleTimeout <= 0 || (h.GraceSeconds != nil && *h.GraceSeconds < 0) {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	if h.Log.Seen < 0 {
		errs = append(errs, errors.New("negative log position"))
	}
	return errors.Join(errs...)
}
