package spark

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestKubeResumeToStopLeavesOtherPod: a try cleared while Sirocco was
// down is resumed only to be stopped; the pod of its driver's name that
// does not carry the try's labels (its create never answered: no UID
// stored) is not the try's, and is not deleted.
func TestKubeResumeToStopLeavesOtherPod(t *testing.T) {
	k := testenv.StartKube(t)
	ns := k.Namespace(t)
	task := stopTask(&testenv.SyncBuffer{})
	task.DagID, task.RunID, task.TaskID, task.TryNumber = "k8s", "cleared", "pi", 1
	task.KillGrace = time.Second
	conn := connection.Connection{ID: "k8s_bed", Type: "kubernetes", Extra: map[string]string{"kube_config_path": k.Kubeconfig, "namespace": ns}}
	task.Connection = func(context.Context, string) (connection.Connection, error) { return conn, nil }
	name := driverPodName(task.DagID, task.RunID, task.TaskID, task.TryNumber)
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "other"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := k.Client.CoreV1().Pods(ns).Create(t.Context(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h := Handle{Kind: kindDriver, Version: handleVersion, ConnID: "spark_k8s", Master: "k8s://https://127.0.0.1", DeployMode: "cluster",
		DriverPod: name, Kube: &KubeDriver{ConnID: "k8s_bed", Namespace: ns}}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("cleared"))
	if _, err := (Recoverer{}).Resume(ctx, task, b); err == nil {
		t.Error("Resume of a cleared try succeeded")
	}
	if pods := k.Pods(t, ns, "app=other"); len(pods) != 1 || pods[0].DeletionTimestamp != nil {
		t.Fatalf("the other pod was deleted:\n%s", task.Log)
	}
}
