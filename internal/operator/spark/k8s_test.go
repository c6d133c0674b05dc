package spark

// spark_submit on a k8s:// master in cluster mode against the Kubernetes
// test bed: spark-submit's own submission client (PySpark's
// spark-kubernetes jar) creates the driver pod through the real apiserver,
// and kwok runs it as its annotations say.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// driverLogLine is what every container of a test namespace logs.
const driverLogLine = "Pi is roughly 3.14"

// kubeSpark is the bed of one subtest: the control plane, a namespace
// whose containers log driverLogLine, and the connections that reach it.
type kubeSpark struct {
	k         *testenv.Kube
	ns        string
	sparkHome string
	token     string
	conns     map[string]connection.Connection
}

// sparkHome is the PySpark installation's Spark (bin/spark-submit,
// jars/ with spark-kubernetes).
func sparkHome(t *testing.T) string {
	t.Helper()
	venv, err := testenv.PySparkVenv()
	if err != nil {
		testenv.RequireCI(t, "PySpark (scripts/spark.sh install)", err)
	}
	homes, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "pyspark"))
	if len(homes) == 0 {
		t.Fatalf("no pyspark package in %s", venv)
	}
	return homes[0]
}

func newKubeSpark(t *testing.T, k *testenv.Kube, home string) *kubeSpark {
	t.Helper()
	b := &kubeSpark{k: k, ns: k.Namespace(t), sparkHome: home}
	logFile := filepath.Join(t.TempDir(), "driver.log")
	if err := os.WriteFile(logFile, []byte("driver starting\n"+driverLogLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.ServeLogs(t, b.ns, logFile)
	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	b.token = cfg.BearerToken
	b.conns = map[string]connection.Connection{
		"k8s_bed": {ID: "k8s_bed", Type: "kubernetes", Extra: map[string]string{"kube_config_path": k.Kubeconfig, "namespace": b.ns}},
		"spark_k8s": {ID: "spark_k8s", Type: "spark", Extra: map[string]string{
			"master": "k8s://", "deploy_mode": "cluster", "spark_home": home, "kubernetes_conn_id": "k8s_bed"}},
	}
	return b
}

// task is one try of spark_submit running SparkPi in a driver pod whose
// kwok behaviour the annotations choose.
func (b *kubeSpark) task(t *testing.T, runID string, annotations map[string]string) (*operator.Task, *handles, *testenv.SyncBuffer) {
	t.Helper()
	conf := map[string]any{"spark.kubernetes.container.image": "apache/spark:4.0.1"}
	for k, v := range annotations {
		conf["spark.kubernetes.driver.annotation."+k] = v
	}
	var log testenv.SyncBuffer
	hs := &handles{}
	return &operator.Task{
		DagID: "k8s", RunID: runID, TaskID: "pi", TryNumber: 1,
		Args: map[string]any{"conn_id": "spark_k8s", "application": "local:///opt/spark/examples/jars/spark-examples.jar",
			"java_class": "org.apache.spark.examples.SparkPi", "application_args": []any{"10"}, "conf": conf},
		Env: map[string]string{"SPARK_LOCAL_IP": "127.0.0.1"},
		Log: &log, Mask: func(string) {}, KillGrace: time.Second, SaveHandle: hs.save,
		Connection: func(_ context.Context, id string) (connection.Connection, error) {
			if c, ok := b.conns[id]; ok {
				return c, nil
			}
			return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		},
	}, hs, &log
}

// tryPods lists the pods carrying the labels of task's try.
func (b *kubeSpark) tryPods(t *testing.T, task *operator.Task) []string {
	t.Helper()
	var names []string
	for _, p := range b.k.Pods(t, b.ns, kube.Selector(driverLabels(task))) {
		names = append(names, p.Name)
	}
	return names
}

// executeAsync runs Execute until ctx ends, its outcome on the channel.
func executeAsync(ctx context.Context, task *operator.Task) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := (Submit{}).Execute(ctx, task)
		done <- err
	}()
	return done
}

// awaitRunning waits until the try stored its driver pod's UID (the pod
// was seen) and kwok runs the pod.
func (b *kubeSpark) awaitRunning(t *testing.T, hs *handles, log *testenv.SyncBuffer) Handle {
	t.Helper()
	h := hs.wait(t, "the driver pod's UID to be stored", 3*time.Minute, func(h Handle) bool { return h.Kube != nil && h.Kube.UID != "" })
	testenv.Eventually(t, "driver pod "+h.DriverPod+" to run", time.Minute, func() (bool, string) {
		return strings.Contains(log.String(), "driver pod "+b.ns+"/"+h.DriverPod+" is Running"), log.String()
	})
	return h
}

var submitLine = regexp.MustCompile(`(?m)^sirocco: \S*/spark-submit --master `)

// TestKubeDriverPod drives spark_submit on the test bed's apiserver: the
// driver pod spark-submit creates is named, labelled and stored by
// Sirocco, tracked to its end, deleted on cancel, reattached after a
// restart without a second submission.
func TestKubeDriverPod(t *testing.T) {
	home := sparkHome(t)
	k := testenv.StartKube(t)

	t.Run("succeeds", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, hs, log := b.task(t, "ok", map[string]string{testenv.KubeRunForAnnotation: "1s"})
		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
		defer cancel()
		if _, err := (Submit{}).Execute(ctx, task); err != nil {
			t.Fatalf("Execute: %v\n%s", err, log.String())
		}
		name := driverPodName("k8s", "ok", "pi", 1)
		if pods := b.tryPods(t, task); len(pods) != 1 || pods[0] != name {
			t.Fatalf("pods of the try %v, want exactly [%s]", pods, name)
		}
		pod, err := k.Client.CoreV1().Pods(b.ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := hs.get(t)
		app := pod.Labels[labelAppSelector]
		if h.DriverPod != name || h.Kube.Namespace != b.ns || h.Kube.ConnID != "k8s_bed" || h.Kube.UID != string(pod.UID) ||
			!strings.HasPrefix(app, "spark-") || h.AppID != app || h.Kube.End == nil || !h.Kube.End.Succeeded {
			t.Errorf("handle %+v %+v, want pod %s (uid %s), application %q, a success", h, h.Kube, name, pod.UID, app)
		}
		out := log.String()
		if n := len(submitLine.FindAllString(out, -1)); n != 1 {
			t.Errorf("spark-submit ran %d times, want 1:\n%s", n, out)
		}
		if !strings.Contains(out, driverLogLine) || !strings.Contains(out, "driver pod "+b.ns+"/"+name+" succeeded") {
			t.Errorf("the driver's log and end are not in the task log:\n%s", out)
		}
		if strings.Contains(out, b.token) || !strings.Contains(out, "spark.kubernetes.authenticate.submission.oauthTokenFile=") {
			t.Errorf("spark-submit must get the token as a file, never on its command line:\n%s", out)
		}
		if m := regexp.MustCompile(`caCertFile=(\S+)`).FindStringSubmatch(out); m == nil {
			t.Errorf("no caCertFile on spark-submit's command line:\n%s", out)
		} else if _, err := os.Stat(filepath.Dir(m[1])); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("spark-submit's credentials directory %s outlived it (%v)", filepath.Dir(m[1]), err)
		}
	})

	t.Run("never created before a restart: submitted then, failing with the driver's exit code", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, hs, log := b.task(t, "fail", map[string]string{testenv.KubeExitCodeAnnotation: "3"})
		// What a Sirocco killed before spark-submit created the pod stored.
		stored, _ := json.Marshal(Handle{Kind: kindDriver, Version: handleVersion, ConnID: "spark_k8s", Master: "k8s://", DeployMode: "cluster",
			DriverPod: driverPodName("k8s", "fail", "pi", 1), Kube: &KubeDriver{ConnID: "k8s_bed", Namespace: b.ns}})
		if !canResume(stored) {
			t.Fatal("a driver pod handle must be resumable")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
		defer cancel()
		_, err := (Recoverer{}).Resume(ctx, task, stored)
		if err == nil || !strings.Contains(err.Error(), "container spark-kubernetes-driver exited with code 3") {
			t.Fatalf("Resume = %v, want the driver's exit code 3\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), "was never created") || len(b.tryPods(t, task)) != 1 {
			t.Errorf("want one pod, submitted by the resume (%v):\n%s", b.tryPods(t, task), log.String())
		}
		if h, _ := hs.get(t); h.Kube.End == nil || h.Kube.End.Succeeded {
			t.Errorf("the failure is not stored: %+v", h.Kube)
		}
	})

	t.Run("cancel deletes the driver pod", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, hs, log := b.task(t, "cancel", map[string]string{testenv.KubeHoldAnnotation: "true"})
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		done := executeAsync(ctx, task)
		b.awaitRunning(t, hs, log)
		cancel(errors.New("cancelled by the test"))
		if err := <-done; err == nil || !strings.Contains(err.Error(), "cancelled by the test") {
			t.Fatalf("Execute = %v, want the cancel\n%s", err, log.String())
		}
		if pods := b.tryPods(t, task); len(pods) != 0 {
			t.Errorf("pods left after the cancel: %v\n%s", pods, log.String())
		}
	})

	t.Run("deleted by someone else", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, hs, log := b.task(t, "deleted", map[string]string{testenv.KubeHoldAnnotation: "true"})
		done := executeAsync(t.Context(), task)
		h := b.awaitRunning(t, hs, log)
		if err := k.Client.CoreV1().Pods(b.ns).Delete(t.Context(), h.DriverPod, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		err := <-done
		if !errors.Is(err, ErrDriverPodGone) || !strings.Contains(err.Error(), "deleted by someone else before it ended (last phase Running)") {
			t.Fatalf("Execute = %v, want ErrDriverPodGone saying so\n%s", err, log.String())
		}
	})

	t.Run("restart reattaches and never submits again", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, hs, log := b.task(t, "again", map[string]string{testenv.KubeRunForAnnotation: "10s"})
		shutdown := fmt.Errorf("%w: shutting down", operator.ErrDetach)
		ctx, stop := context.WithCancelCause(t.Context())
		done := executeAsync(ctx, task)
		b.awaitRunning(t, hs, log)
		testenv.Eventually(t, "the driver's log", time.Minute, func() (bool, string) {
			return strings.Contains(log.String(), driverLogLine), log.String()
		})
		stop(shutdown)
		if err := <-done; !errors.Is(err, operator.ErrDetach) {
			t.Fatalf("Execute on a shutdown = %v, want ErrDetach\n%s", err, log.String())
		}
		h, stored := hs.get(t)
		if h.Kube.Log.IsZero() {
			t.Errorf("the driver log's position is not stored: %s", stored)
		}
		// A restart: the stored handle is resumed, the log goes on from
		// its position.
		ctx, stop = context.WithCancelCause(t.Context())
		resumed := make(chan error, 1)
		go func() {
			_, err := (Recoverer{}).Resume(ctx, task, stored)
			resumed <- err
		}()
		testenv.Eventually(t, "the resume to follow the pod", time.Minute, func() (bool, string) {
			return strings.Contains(log.String(), "reattaching to driver pod "+b.ns+"/"+h.DriverPod+" (phase Running), its log after "), log.String()
		})
		stop(shutdown)
		if err := <-resumed; !errors.Is(err, operator.ErrDetach) {
			t.Fatalf("Resume on a shutdown = %v, want ErrDetach\n%s", err, log.String())
		}
		if n := strings.Count(log.String(), driverLogLine); n != 1 {
			t.Errorf("the resume copied the driver's log line %d times in all, want once:\n%s", n, log.String())
		}
		// The same try run again from its start: the pod is followed, not
		// submitted again.
		ectx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		if _, err := (Submit{}).Execute(ectx, task); err != nil {
			t.Fatalf("Execute again: %v\n%s", err, log.String())
		}
		out := log.String()
		if n := len(submitLine.FindAllString(out, -1)); n != 1 || !strings.Contains(out, "already exists (phase Running): following it, not submitting again") ||
			len(b.tryPods(t, task)) != 1 || !strings.Contains(out, "driver pod "+b.ns+"/"+h.DriverPod+" succeeded") {
			t.Errorf("want one spark-submit (%d), one pod (%v), the pod followed to its end:\n%s", n, b.tryPods(t, task), out)
		}
	})

	t.Run("stop after a restart deletes the driver pod", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, hs, log := b.task(t, "stop", map[string]string{testenv.KubeHoldAnnotation: "true"})
		ctx, stop := context.WithCancelCause(t.Context())
		done := executeAsync(ctx, task)
		b.awaitRunning(t, hs, log)
		stop(fmt.Errorf("%w: shutting down", operator.ErrDetach))
		<-done
		_, stored := hs.get(t)
		var stopLog testenv.SyncBuffer
		st := stopTask(&stopLog)
		st.Connection = task.Connection
		for i := range 2 {
			if err := (Recoverer{}).Stop(t.Context(), st, stored); err != nil {
				t.Fatalf("Stop %d: %v\n%s", i+1, err, stopLog.String())
			}
			if pods := b.tryPods(t, task); len(pods) != 0 {
				t.Fatalf("pods left after Stop: %v\n%s", pods, stopLog.String())
			}
		}
	})

	t.Run("a driver pod recorded before handle version 4", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, _, log := b.task(t, "legacy", nil)
		for _, tt := range []struct {
			name        string
			annotations map[string]string
			stop        bool
		}{
			{"spark-pi-0a1b2c3d4e5f6a7b-driver", map[string]string{testenv.KubeRunForAnnotation: "1s"}, false},
			{"spark-pi-7b6a5f4e3d2c1b0a-driver", map[string]string{testenv.KubeHoldAnnotation: "true"}, true},
		} {
			// The pod as spark-submit creates it, named by Spark.
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tt.name, Annotations: tt.annotations,
				Labels: map[string]string{labelAppSelector: "spark-0a1b", "spark-role": "driver"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: defaultDriverContainer, Image: "apache/spark:4.0.1"}}}}
			if _, err := k.Client.CoreV1().Pods(b.ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			stored := []byte(fmt.Sprintf(`{"kind":"spark_driver","version":3,"conn_id":"spark_k8s","master":"k8s://%s","deploy_mode":"cluster","driver_pod":%q}`,
				k.Server, tt.name))
			if !canResume(stored) {
				t.Fatalf("%s: not resumable", stored)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			var err error
			if tt.stop {
				err = (Recoverer{}).Stop(ctx, task, stored)
			} else {
				_, err = (Recoverer{}).Resume(ctx, task, stored)
			}
			cancel()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tt.name, err, log.String())
			}
			_, gerr := k.Client.CoreV1().Pods(b.ns).Get(t.Context(), tt.name, metav1.GetOptions{})
			if tt.stop != apierrors.IsNotFound(gerr) {
				t.Errorf("%s: after the stop (%v), the pod's read: %v", tt.name, tt.stop, gerr)
			}
		}
		if out := log.String(); !strings.Contains(out, "was recorded by an older Sirocco: looking for it in namespace "+b.ns) ||
			!strings.Contains(out, "spark-pi-0a1b2c3d4e5f6a7b-driver succeeded") {
			t.Errorf("the log does not show the old driver pods found and followed:\n%s", out)
		}
	})

	t.Run("an image that cannot be pulled", func(t *testing.T) {
		b := newKubeSpark(t, k, home)
		task, _, log := b.task(t, "pull", map[string]string{testenv.KubeWaitingReasonAnnotation: "ErrImagePull"})
		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
		defer cancel()
		_, err := (Submit{}).Execute(ctx, task)
		if err == nil || !strings.Contains(err.Error(), "the driver's image cannot be pulled: ErrImagePull") {
			t.Fatalf("Execute = %v, want the pull failure\n%s", err, log.String())
		}
		if pods := b.tryPods(t, task); len(pods) != 0 {
			t.Errorf("a driver pod that cannot start is left: %v", pods)
		}
	})
}
