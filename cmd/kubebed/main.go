// Command kubebed starts and stops Sirocco's local Kubernetes test bed for
// a user, outside `go test`: the same control plane as the tests'
// (internal/kubebed: etcd, kube-apiserver, kube-scheduler and kwok faking
// one node, on free loopback ports), left running in the background until
// `kubebed down`. scripts/k8s.sh up / down / status / conn run it.
//
//	kubebed up -bin BINDIR -state DIR      start (or report the running bed), print its kubeconfig and connection
//	kubebed down -state DIR                stop it
//	kubebed status -state DIR              exit 0 when it runs
//	kubebed conn -state DIR                print the kubernetes_default connection, env format
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirocco-dev/sirocco/internal/kubebed"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// certValidity is the user's bed's certificate lifetime: longer than a
// test's, as the bed may run for days.
const certValidity = 30 * 24 * time.Hour

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kubebed: %v\n", err)
		os.Exit(1)
	}
}

// run dispatches one command.
func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: kubebed up|down|status|conn -state DIR [-bin DIR]")
	}
	fs := flag.NewFlagSet("kubebed "+args[0], flag.ContinueOnError)
	state := fs.String("state", "", "state directory (the bed runs in DIR/bed, recorded in DIR/bed.json)")
	bin := fs.String("bin", "", "directory of etcd, kube-apiserver, kube-scheduler and kwok (scripts/k8s.sh install)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("-state is required")
	}
	paths := statePaths(*state)
	switch args[0] {
	case "up":
		return up(paths, *bin, out)
	case "down":
		return down(paths, out)
	case "status":
		return status(paths, out)
	case "conn":
		_, err := fmt.Fprintln(out, "kubernetes_default="+connURI(filepath.Join(paths.bed, "kubeconfig")))
		return err
	default:
		return fmt.Errorf("unknown command %q: want up, down, status or conn", args[0])
	}
}

// paths are the files of a state directory.
type paths struct{ dir, bed, state, conn string }

func statePaths(dir string) paths {
	return paths{dir: dir, bed: filepath.Join(dir, "bed"), state: filepath.Join(dir, "bed.json"), conn: filepath.Join(dir, "conn.env")}
}

// connURI is the kubernetes connection to the bed: its kubeconfig,
// namespace default.
func connURI(kubeconfig string) string {
	return "kubernetes://?kube_config_path=" + url.QueryEscape(kubeconfig) + "&namespace=default"
}

// loadRunning returns the recorded bed when every component still runs;
// ok is false when none is recorded or some component has gone.
func loadRunning(p paths) (s kubebed.State, ok bool, err error) {
	s, err = kubebed.LoadState(p.state)
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	return s, len(s.Running()) == len(kubebed.Components), nil
}

// up starts a fresh bed in the background, unless one runs already; a
// bed that lost a component is stopped and replaced.
func up(p paths, binDir string, out io.Writer) error {
	s, ok, err := loadRunning(p)
	if err != nil {
		return err
	}
	if ok {
		fmt.Fprintf(out, "kubebed: the test bed is already running at %s\n", s.Server)
		return describe(out, p, s)
	}
	if err := stopRecorded(p); err != nil {
		return err
	}
	if binDir == "" {
		return errors.New("-bin is required (scripts/k8s.sh install prints it)")
	}
	bins, err := kubebed.FindBinaries(binDir)
	if err != nil {
		return err
	}
	// A fresh etcd each time: the old one's node and CRD would clash.
	if err := os.RemoveAll(p.bed); err != nil {
		return fmt.Errorf("clear %s: %w", p.bed, err)
	}
	if err := os.MkdirAll(p.bed, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", p.bed, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	bed, err := kubebed.Start(ctx, kubebed.Options{Bin: bins, Dir: p.bed, Detach: true, CertValidity: certValidity})
	if err != nil {
		return err
	}
	err = servePodLog(ctx, bed)
	if err == nil {
		s, err = bed.State()
	}
	if err == nil {
		err = kubebed.SaveState(p.state, s)
	}
	if err == nil {
		err = os.WriteFile(p.conn, []byte("kubernetes_default="+connURI(bed.Kubeconfig)+"\n"), 0o600)
	}
	if err != nil {
		return errors.Join(err, bed.Stop())
	}
	fmt.Fprintf(out, "kubebed: Kubernetes %s test bed up at %s in %s\n", kubebed.Version, s.Server, time.Since(started).Round(100*time.Millisecond))
	return describe(out, p, s)
}

// podLogLine is every container's log on the user's bed: kwok runs no
// container, and says so in the task log rather than leaving it empty.
const podLogLine = "kwok test bed: this pod ran no container (kwok fakes the node); on a real cluster the image's command runs here"

// servePodLog makes podLogLine the log of every container of every pod
// (a kwok ClusterLogs without selector).
func servePodLog(ctx context.Context, bed *kubebed.Bed) error {
	file := filepath.Join(bed.Dir, "pod.log")
	line := time.Now().UTC().Format(time.RFC3339Nano) + " stdout F " + podLogLine + "\n"
	if err := os.WriteFile(file, []byte(line), 0o644); err != nil {
		return fmt.Errorf("write the pods' log: %w", err)
	}
	dc, err := bed.Dynamic()
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterLogs",
		"metadata":   map[string]any{"name": "sirocco-pod-log"},
		"spec":       map[string]any{"logs": []any{map[string]any{"logsFile": file}}},
	}}
	if _, err := dc.Resource(kubebed.ClusterLogsResource).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterLogs sirocco-pod-log: %w", err)
	}
	// kwok picks the resource up through a watch; its server answers any
	// pod name, so a probe shows when the logs are served.
	client := bed.HTTPClient()
	defer client.CloseIdleConnections()
	probe := bed.KwokURL() + "/containerLogs/default/probe/probe"
	for deadline := time.Now().Add(time.Minute); ; {
		ok, observed := kubebed.HTTPOK(client, probe)
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kwok does not serve the pods' log: %s", observed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// describe prints how to use the running bed.
func describe(out io.Writer, p paths, s kubebed.State) error {
	_, err := fmt.Fprintf(out, `  node:        %s, faked by kwok: pods run no containers; a pod runs 100ms, then Succeeds
  kubeconfig:  %s
  connection:  export SIROCCO_CONN_KUBERNETES_DEFAULT='%s'
               (or store it: bin/sirocco connections import %s --file-format env --overwrite)
  logs:        %s
  stop it:     scripts/k8s.sh down
`, kubebed.NodeName, s.Kubeconfig, connURI(s.Kubeconfig), p.conn, filepath.Join(p.bed, "*.log"))
	return err
}

// stopRecorded stops whatever the state file records and removes it.
func stopRecorded(p paths) error {
	s, err := kubebed.LoadState(p.state)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.Stop(); err != nil {
		return err
	}
	if err := os.Remove(p.state); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p.state, err)
	}
	return nil
}

// down stops the recorded bed; its directory (logs) stays until the next
// up.
func down(p paths, out io.Writer) error {
	s, err := kubebed.LoadState(p.state)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(out, "kubebed: no test bed is recorded in "+p.dir)
		return nil
	}
	if err != nil {
		return err
	}
	if err := stopRecorded(p); err != nil {
		return err
	}
	fmt.Fprintf(out, "kubebed: stopped the test bed at %s (logs in %s)\n", s.Server, p.bed)
	return nil
}

// status reports whether the bed runs; an error (exit 1) when it does not.
func status(p paths, out io.Writer) error {
	s, ok, err := loadRunning(p)
	if err != nil {
		return err
	}
	if !ok {
		running := s.Running()
		if len(running) > 0 {
			return fmt.Errorf("the test bed is broken: only %s run; scripts/k8s.sh down, then up", strings.Join(running, ", "))
		}
		return errors.New("the test bed is not running")
	}
	fmt.Fprintf(out, "kubebed: the test bed is running at %s\n", s.Server)
	return describe(out, p, s)
}
