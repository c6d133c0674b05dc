package spark

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kube"
)

// KubeDriver is the driver pod of spark-submit in cluster mode on a
// k8s:// master. Sirocco names the pod (Handle.DriverPod) and stores this
// before spark-submit runs, so that a restart finds the pod by its name
// and never submits a second driver for the try; the pod is then tracked
// through the apiserver (a watch), not through spark-submit.
type KubeDriver struct {
	// ConnID is the kubernetes connection the pod is reached through
	// (the Spark connection's kubernetes_conn_id, else
	// kubernetes_default); Namespace is the pod's. Both are empty in a
	// handle upgraded from version 3 or before: they are read from the
	// Spark connection then (legacySettings).
	ConnID    string `json:"kubernetes_conn_id,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// UID is the pod's once seen: a pod of the same name with another
	// UID is not the try's.
	UID string `json:"uid,omitempty"`
	// Log is how far the driver container's log is in the task log.
	Log kube.LogPosition `json:"log"`
	// End is the outcome, stored once the pod ended: a resume after it
	// decides from it, even if the pod was cleaned up since.
	End *KubeEnd `json:"end,omitempty"`
}

// KubeEnd is how a driver pod ended.
type KubeEnd struct {
	Succeeded bool   `json:"succeeded"`
	Reason    string `json:"reason,omitempty"` // of a failure
}

// legacy reports a driver pod recorded by a Sirocco before version 4,
// whose namespace and connection were not stored.
func (k *KubeDriver) legacy() bool { return k.Namespace == "" }

// checkKube rejects a driver pod record that could point a delete at
// another pod: a pod name and namespace the API would refuse, a
// connection id that is not one, a driver elsewhere too.
func (h *Handle) checkKube() error {
	k := h.Kube
	var errs []error
	if h.Kind != kindDriver || h.DriverID != "" || h.Remote != nil {
		errs = append(errs, errors.New("a driver pod is the only driver of a spark_driver handle (no driver_id, no ssh)"))
	}
	if err := kube.CheckPodName(h.DriverPod); err != nil {
		errs = append(errs, fmt.Errorf("driver_pod %q: %w", h.DriverPod, err))
	}
	if k.Namespace != "" {
		if err := kube.CheckNamespace(k.Namespace); err != nil {
			errs = append(errs, err)
		}
	}
	if (k.ConnID == "") != (k.Namespace == "") {
		errs = append(errs, errors.New("a driver pod's kubernetes_conn_id and namespace are stored together"))
	}
	if k.ConnID != "" && connection.ValidateID(k.ConnID) != nil {
		errs = append(errs, fmt.Errorf("kubernetes_conn_id %q is not a connection id", k.ConnID))
	}
	if k.Log.Seen < 0 {
		errs = append(errs, errors.New("negative log position"))
	}
	return errors.Join(errs...)
}

// upgradeKube reads the driver pod of a handle stored before version 4:
// spark-submit waited for the pod and printed its name, which the handle
// kept. Such a pod is the try's driver: it is tracked or deleted, never
// left orphaned.
func upgradeKube(h *Handle) {
	if h.Kind == kindDriver && h.DriverID == "" && h.Remote == nil && h.DriverPod != "" &&
		strings.HasPrefix(h.Master, "k8s://") && h.DeployMode != "client" {
		h.Kube = &KubeDriver{}
	}
}

// driverPodNameMax keeps a driver pod's name a valid host name, as
// Spark's own generated names are.
const driverPodNameMax = 63

// driverPodName is the name of a try's driver pod: the task id as a slug,
// a hash of the try's identity, and "-driver" (as Spark's own names end).
// It depends only on the try, so a try submitted again after a restart
// asks for the same name, which the apiserver gives at most one pod.
func driverPodName(dagID, runID, taskID string, try int) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{dagID, runID, taskID, strconv.Itoa(try)}, "\x00")))
	hash := hex.EncodeToString(sum[:])[:12]
	const suffix = "-driver"
	slug, err := kube.NameFromTaskID(taskID, false)
	if err != nil {
		slug = "spark"
	}
	room := driverPodNameMax - len(hash) - len(suffix) - 1
	if len(slug) > room {
		slug = strings.TrimRight(slug[:room], "-.")
	}
	return slug + "-" + hash + suffix
}
