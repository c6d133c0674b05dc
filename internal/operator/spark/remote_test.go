package spark

// spark_submit with ssh_conn_id against the real test bed: an OpenSSH sshd
// on loopback as the edge node, running spark-submit from the same PySpark
// installation against the standalone cluster.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// edge is the test bed of a remote spark-submit: the cluster, the sshd
// standing for the edge node, and the connections that reach them.
type edge struct {
	cl    *testenv.SparkCluster
	sshd  *testenv.SSHServer
	pool  *sshclient.Pool
	conns map[string]connection.Connection
}

func newEdge(t *testing.T) *edge {
	t.Helper()
	e := &edge{cl: testenv.Spark(t), sshd: testenv.SSHD(t)}
	e.pool = sshclient.NewPool(sshclient.PoolOptions{})
	t.Cleanup(func() { _ = e.pool.Close() })
	host, port, _ := strings.Cut(strings.TrimPrefix(e.cl.MasterURL, "spark://"), ":")
	var p int
	fmt.Sscan(port, &p)
	e.conns = map[string]connection.Connection{
		"spark_cluster": {ID: "spark_cluster", Type: "spark", Host: host, Port: p, Extra: map[string]string{
			"rest_url": e.cl.RESTURL, "master_ui": e.cl.MasterUI, "spark_home": e.cl.SparkHome}},
		"edge_node": {ID: "edge_node", Type: "ssh", Host: e.sshd.Host, Port: e.sshd.Port, Login: e.sshd.User,
			Extra: map[string]string{"key_file": e.sshd.KeyFile, "known_hosts": e.sshd.KnownHostsFile}},
	}
	return e
}

// handles records what a try stores, for a test to wait on.
type handles struct {
	mu      sync.Mutex
	last    []byte
	count   int
	changed chan struct{}
}

func (h *handles) save(_ context.Context, b []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last, h.count = append([]byte(nil), b...), h.count+1
	if h.changed != nil {
		close(h.changed)
	}
	h.changed = make(chan struct{})
	return nil
}

// get returns the last handle stored, decoded.
func (h *handles) get(t *testing.T) (Handle, []byte) {
	t.Helper()
	h.mu.Lock()
	b := h.last
	h.mu.Unlock()
	if b == nil {
		return Handle{}, nil
	}
	hd, err := decodeHandle(b)
	if err != nil {
		t.Fatalf("stored handle %s: %v", b, err)
	}
	return hd, b
}

// wait waits until the stored handle satisfies ok.
func (h *handles) wait(t *testing.T, what string, limit time.Duration, ok func(Handle) bool) Handle {
	t.Helper()
	deadline := time.After(limit)
	for {
		h.mu.Lock()
		if h.changed == nil {
			h.changed = make(chan struct{})
		}
		ch := h.changed
		h.mu.Unlock()
		if hd, b := h.get(t); b != nil && ok(hd) {
			return hd
		}
		select {
		case <-ch:
		case <-deadline:
			hd, _ := h.get(t)
			t.Fatalf("%s: not within %s (handle %+v)", what, limit, hd)
		}
	}
}

// task is one try of spark_submit with fields args, run on the edge node.
func (e *edge) task(t *testing.T, runID string, args map[string]any) (*operator.Task, *handles, *testenv.SyncBuffer) {
	t.Helper()
	var log testenv.SyncBuffer
	hs := &handles{}
	args["ssh_conn_id"] = "edge_node"
	if _, ok := args["conn_id"]; !ok {
		args["conn_id"] = "spark_cluster"
	}
	return &operator.Task{
		DagID: "remote", RunID: runID, TaskID: "submit", TryNumber: 1, Args: args,
		Env: map[string]string{"SPARK_CONF_DIR": e.cl.ConfDir, "SPARK_LOCAL_IP": "127.0.0.1",
			"PYSPARK_PYTHON": e.cl.Python, "PYSPARK_DRIVER_PYTHON": e.cl.Python},
		Log: &log, Mask: func(string) {}, KillGrace: time.Second, SSH: e.pool, SaveHandle: hs.save,
		Connection: func(_ context.Context, id string) (connection.Connection, error) {
			if c, ok := e.conns[id]; ok {
				return c, nil
			}
			return connection.Connection{}, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
		},
	}, hs, &log
}

// hostile are application arguments that would run, expand or split in a
// shell line: each must reach the application as it is.
func hostile(marker string) []any {
	return []any{"$(touch " + marker + ")", "`touch " + marker + "`", "it's", `say "hi"`, "two\nlines", "*", "~", "a b", "", "--", "; touch " + marker}
}

// TestRemoteSubmitClientMode runs a PySpark application in client mode on
// the edge node against the cluster: it succeeds; the application id and
// the master's page of it are stored; the hostile arguments and an
// env_vars value reach the application unchanged and nothing of them ran;
// the connection's principal and keytab are on the remote command line as
// a principal and a path, the keytab's content nowhere in the log; the
// remote job's directory is removed once spark-submit ended.
func TestRemoteSubmitClientMode(t *testing.T) {
	e := newEdge(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	app := filepath.Join(dir, "args.py")
	if err := os.WriteFile(app, []byte(`import json, os, sys
print("ARGS=" + json.dumps(sys.argv[1:], separators=(",", ":")))
print("VAR=" + json.dumps(os.environ.get("SIROCCO_TEST_VAR")))
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.createDataFrame([("Alice", 30)], ["Name", "Age"]).show()
spark.stop()
`), 0o644); err != nil {
		t.Fatal(err)
	}
	const keytabContent = "KEYTAB-CONTENT-must-not-be-logged"
	keytab := filepath.Join(dir, "spark.keytab")
	if err := os.WriteFile(keytab, []byte(keytabContent), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.conns["spark_cluster"]
	c.Extra["principal"], c.Extra["keytab"] = "spark/edge@EXAMPLE.ORG", keytab
	args := hostile(marker)
	task, hs, log := e.task(t, "client", map[string]any{
		"application": app, "application_args": args, "total_executor_cores": "1", "executor_memory": "512m",
		"env_vars": map[string]any{"SIROCCO_TEST_VAR": "$(touch " + marker + ") 'x'"},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := (Submit{}).Execute(ctx, task); err != nil {
		t.Fatalf("Execute: %v\n%s", err, log.String())
	}
	out := log.String()
	want := make([]string, len(args))
	for i, a := range args {
		want[i] = a.(string)
	}
	wantJSON, _ := json.Marshal(want)
	if !strings.Contains(out, "ARGS="+string(wantJSON)+"\n") {
		t.Errorf("the application did not get its arguments unchanged (want ARGS=%s):\n%s", wantJSON, out)
	}
	if !strings.Contains(out, `VAR="$(touch `+marker+`) 'x'"`) {
		t.Errorf("env_vars did not reach the application unchanged:\n%s", out)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a hostile argument ran on the edge node: %s exists (%v)", marker, err)
	}
	if !strings.Contains(out, "|Alice| 30|") {
		t.Errorf("the DataFrame is not in the task log:\n%s", out)
	}
	if !strings.Contains(out, "on "+e.sshd.User+"@"+e.sshd.Addr()+" (ssh connection edge_node") ||
		!strings.Contains(out, " --keytab "+keytab+" --principal spark/edge@EXAMPLE.ORG ") {
		t.Errorf("the log does not show the remote command line with the keytab's path and the principal:\n%s", out)
	}
	if strings.Contains(out, keytabContent) {
		t.Errorf("the keytab's content is in the task log")
	}
	hd, _ := hs.get(t)
	if !strings.HasPrefix(hd.AppID, "app-") || hd.SparkUI != e.cl.MasterUI+"/app/?appId="+hd.AppID {
		t.Errorf("handle %+v lacks the application id or the master's page of it", hd)
	}
	if r := hd.Remote; r == nil || r.Job == nil || r.ExitCode == nil || *r.ExitCode != 0 || r.SSHConnID != "edge_node" || r.Offsets.Stdout == 0 {
		t.Errorf("handle's remote part %+v: want the job, its exit code 0 and the offsets read", hd.Remote)
	} else if _, err := os.Stat(r.Job.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the remote job's directory %s was not cleaned up (%v)", r.Job.Dir, err)
	}
}

// TestRemoteSubmitClusterModeAndCancel: in standalone cluster mode the
// remote spark-submit's driver id is stored and the driver tracked to its
// end, its output (the hostile arguments, unchanged, one a line) copied
// into the log. A second try of a long driver, cancelled once its driver
// id is stored, kills the driver on the master and leaves no process on
// the edge node; Recoverer.Stop of its handle afterwards finds nothing
// left and succeeds.
func TestRemoteSubmitClusterModeAndCancel(t *testing.T) {
	e := newEdge(t)
	jar := testenv.SparkTestJar(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	args := []any{"$(touch " + marker + ")", "it's", "*", `"q"`}
	task, hs, log := e.task(t, "cluster", map[string]any{"application": jar, "java_class": testenv.SparkEchoClass,
		"deploy_mode": "cluster", "driver_memory": "512m", "application_args": args})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := (Submit{}).Execute(ctx, task); err != nil {
		t.Fatalf("Execute: %v\n%s", err, log.String())
	}
	hd, _ := hs.get(t)
	if !strings.HasPrefix(hd.DriverID, "driver-") || hd.DeployMode != "cluster" || hd.Remote == nil || hd.Remote.Job == nil {
		t.Fatalf("handle %+v: want the driver id and the remote job", hd)
	}
	out := log.String()
	if !strings.Contains(out, "\n$(touch "+marker+")\nit's\n*\n\"q\"\n") || !strings.Contains(out, "driver "+hd.DriverID+" is FINISHED") {
		t.Errorf("the driver's output (its arguments unchanged) and its end should be in the log:\n%s", out)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a hostile argument ran: %s exists", marker)
	}

	task, hs, log = e.task(t, "cancel", map[string]any{"application": jar, "java_class": testenv.SparkSleepClass,
		"deploy_mode": "cluster", "driver_memory": "512m", "application_args": []any{"300"}})
	cctx, cancelCause := context.WithCancelCause(t.Context())
	defer cancelCause(nil)
	done := make(chan error, 1)
	go func() {
		_, err := (Submit{}).Execute(cctx, task)
		done <- err
	}()
	hd = hs.wait(t, "the driver id to be stored", 2*time.Minute, func(h Handle) bool { return h.DriverID != "" })
	cancelCause(errors.New("cancelled by the test"))
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled try succeeded")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Execute did not return after the cancel")
	}
	c := &spark.Client{RESTURL: e.cl.RESTURL, MasterUIURL: e.cl.MasterUI}
	if st, err := c.Status(t.Context(), hd.DriverID); err != nil || st.State != "KILLED" {
		t.Errorf("driver %s after the cancel: %+v %v, want KILLED\n%s", hd.DriverID, st, err, log.String())
	}
	if ps := e.sshd.SessionProcesses(); len(ps) > 0 {
		t.Errorf("processes left on the edge node after the cancel: %v", ps)
	}
	_, b := hs.get(t)
	var stopLog testenv.SyncBuffer
	task.Log = &stopLog
	if err := (Recoverer{}).Stop(t.Context(), task, b); err != nil {
		t.Errorf("Stop of the cancelled try's handle: %v\n%s", err, stopLog.String())
	}
}

// TestRemoteSubmitClientModeCancelAndResume: a client-mode spark-submit on
// the edge node outlives its follower. A try detached by a shutdown leaves
// it running; Resume from the stored handle (a restarted Sirocco) follows
// the same remote job from its offsets, without starting another, and a
// cancel then stops its whole process group on the edge node (ps there),
// and the application ends on the master.
func TestRemoteSubmitClientModeCancelAndResume(t *testing.T) {
	e := newEdge(t)
	jar := testenv.SparkTestJar(t)
	task, hs, log := e.task(t, "resume", map[string]any{"application": jar, "java_class": testenv.SparkSleepClass,
		"total_executor_cores": "1", "executor_memory": "512m", "application_args": []any{"300"}})
	ctx, detach := context.WithCancelCause(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := (Submit{}).Execute(ctx, task)
		done <- err
	}()
	hd := hs.wait(t, "the application id to be stored", 2*time.Minute, func(h Handle) bool { return h.AppID != "" })
	detach(fmt.Errorf("%w: shutting down", operator.ErrDetach))
	if err := <-done; !errors.Is(err, operator.ErrDetach) {
		t.Fatalf("Execute after a shutdown = %v, want ErrDetach\n%s", err, log.String())
	}
	if len(e.sshd.SessionProcesses()) == 0 {
		t.Fatal("a shutdown stopped the remote spark-submit; it must keep running")
	}
	_, b := hs.get(t)
	if !(Recoverer{}).CanResume(b) {
		t.Fatalf("a started remote spark-submit is not resumable: %s", b)
	}
	e.sshd.DropConnections() // and a new process: new connections

	ctx, cancel := context.WithCancelCause(t.Context())
	var resumed testenv.SyncBuffer
	task.Log = &resumed
	go func() {
		_, err := (Recoverer{}).Resume(ctx, task, b)
		done <- err
	}()
	waitFor(t, "the resumed try to follow the job", time.Minute, func() bool { return strings.Contains(resumed.String(), "again from byte") })
	cancel(errors.New("cancelled by the test"))
	if err := <-done; err == nil {
		t.Fatal("a cancelled resumed try succeeded")
	}
	out := resumed.String()
	if strings.Contains(out, "spark-submit --master") {
		t.Errorf("the resumed try started spark-submit again:\n%s", out)
	}
	if ps := e.sshd.SessionProcesses(); len(ps) > 0 {
		t.Errorf("processes left on the edge node after the cancel: %v\n%s", ps, out)
	}
	if !strings.Contains(out, "spark-submit on "+e.sshd.User+"@"+e.sshd.Addr()+": terminated") &&
		!strings.Contains(out, ": killed") {
		t.Errorf("the log does not say the remote spark-submit was stopped:\n%s", out)
	}
	c := &spark.Client{RESTURL: e.cl.RESTURL, MasterUIURL: e.cl.MasterUI}
	waitFor(t, "the application to end on the master", time.Minute, func() bool {
		m, err := c.Master(t.Context())
		if err != nil {
			return false
		}
		for _, a := range m.ActiveApps {
			if a.ID == hd.AppID {
				return false
			}
		}
		return true
	})
}

// TestRemoteStopOfAnUnstartedJob: a handle stored before the start
// answered names only the job id. Stop claims that id (so the start can
// never happen) and says nothing ran; Stop of a job id that did start
// finds that job and stops it.
func TestRemoteStopOfAnUnstartedJob(t *testing.T) {
	e := newEdge(t)
	task, _, _ := e.task(t, "unstarted", map[string]any{})
	var log testenv.SyncBuffer
	task.Log = &log
	rh, err := dialRemote(t.Context(), task, "edge_node")
	if err != nil {
		t.Fatal(err)
	}
	h := Handle{Kind: kindDriver, Version: handleVersion, Remote: &RemoteSubmit{SSHConnID: "edge_node", Host: rh.name, JobID: "never_started_1"}}
	b, _ := json.Marshal(h)
	if err := (Recoverer{}).Stop(t.Context(), task, b); err != nil || !strings.Contains(log.String(), "never started") {
		t.Fatalf("Stop = %v\n%s", err, log.String())
	}
	h.Remote.JobID = "started_1"
	job, _, err := remotejob.Start(t.Context(), rh.shell, remotejob.Spec{Command: "sleep 300", JobID: "started_1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(h)
	if err := (Recoverer{}).Stop(t.Context(), task, b); err != nil {
		t.Fatalf("Stop = %v\n%s", err, log.String())
	}
	if ps := e.sshd.SessionProcesses(); len(ps) > 0 {
		t.Errorf("job %s still runs after Stop: %v\n%s", job.Dir, ps, log.String())
	}
}

// waitFor polls cond until it holds, failing t after limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
