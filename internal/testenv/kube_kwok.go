package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/kubebed"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pod logs of the Kubernetes test bed: kwok serves files as containers'
// logs (ClusterLogs, watched by kwok as custom resources so that ServeLogs
// can add them while kwok runs).

// kubeLogPoll is how often a served log file is checked for appended
// lines, the delay a follower sees at most.
const kubeLogPoll = 10 * time.Millisecond

// ServeLogs makes every container of every pod in namespace serve file as
// its log, through the apiserver's pods/log (kwok's ClusterLogs): file
// holds plain text lines, which a follower (follow=true) receives as they
// are appended. kwok reads the CRI log format, so the lines are copied to
// a CRI-format twin of file as they appear (a line is served once it ends
// with a newline). file need not exist yet. The configuration is removed
// at t's cleanup. Note kwok's follow never ends by itself: a follower
// stops when the pod has terminated, as a real client does.
func (k *Kube) ServeLogs(t testing.TB, namespace, file string) {
	t.Helper()
	k.logsMu.Lock()
	k.logs++
	n := k.logs
	k.logsMu.Unlock()
	name := fmt.Sprintf("sirocco-logs-%d", n)
	criFile := filepath.Join(k.bed.Dir, name+".cri.log")
	if err := os.WriteFile(criFile, nil, 0o644); err != nil {
		t.Fatalf("testenv: ServeLogs: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	copied := make(chan error, 1)
	go func() { copied <- copyAsCRILog(ctx, file, criFile) }()
	t.Cleanup(func() {
		stop()
		if err := <-copied; err != nil {
			t.Errorf("testenv: ServeLogs %s: %v", file, err)
		}
	})
	k.createClusterLogs(t, name, namespace, criFile)
	// kwok picks the resource up through a watch; its server answers any
	// pod name, so a probe shows when the namespace is served.
	client := k.bed.HTTPClient()
	defer client.CloseIdleConnections()
	probe := k.bed.KwokURL() + "/containerLogs/" + namespace + "/serve-logs-probe/probe"
	Eventually(t, "kwok to serve the logs of namespace "+namespace, 90*time.Second, func() (bool, string) {
		return kubebed.HTTPOK(client, probe)
	})
}

// createClusterLogs creates a ClusterLogs resource serving criFile for
// every container of namespace's pods, deleted at t's cleanup.
func (k *Kube) createClusterLogs(t testing.TB, name, namespace, criFile string) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterLogs",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{namespace}},
			"logs":     []any{map[string]any{"logsFile": criFile, "follow": true}},
		},
	}}
	dc, err := k.bed.Dynamic()
	if err != nil {
		t.Fatalf("testenv: ServeLogs: %v", err)
	}
	res := dc.Resource(kubebed.ClusterLogsResource)
	ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
	defer cancel()
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testenv: ServeLogs: create ClusterLogs %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kubeRequestTimeout)
		defer cancel()
		if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("testenv: ServeLogs: delete ClusterLogs %s: %v", name, err)
		}
	})
}

// copyAsCRILog follows src (waiting for it to exist) and appends each
// complete line to dst in the CRI log format ("<RFC 3339 time> stdout F
// <line>") until ctx ends.
func copyAsCRILog(ctx context.Context, src, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	defer out.Close()
	var in *os.File
	defer func() {
		if in != nil {
			in.Close()
		}
	}()
	var pending []byte
	tick := time.NewTicker(kubeLogPoll)
	defer tick.Stop()
	for {
		if in == nil {
			if in, err = os.Open(src); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("open %s: %w", src, err)
			}
		}
		if in != nil {
			if pending, err = copyLines(in, out, pending); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// copyLines reads what was appended to in, writes its complete lines to
// out in the CRI format, and returns the incomplete rest.
func copyLines(in io.Reader, out io.Writer, pending []byte) ([]byte, error) {
	b, err := io.ReadAll(in)
	if err != nil {
		return pending, fmt.Errorf("read log: %w", err)
	}
	pending = append(pending, b...)
	var buf bytes.Buffer
	for {
		i := bytes.IndexByte(pending, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(&buf, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), pending[:i])
		pending = pending[i+1:]
	}
	if buf.Len() > 0 {
		if _, err := out.Write(buf.Bytes()); err != nil {
			return pending, fmt.Errorf("write log: %w", err)
		}
	}
	return pending, nil
}
