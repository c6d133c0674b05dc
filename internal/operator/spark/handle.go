package spark

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"sync"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
)

// Handle kinds. A "spark_driver" handle names the driver of an
// application: spark-submit running here (client mode, or cluster mode
// before the master named the driver), which dies with Sirocco and is
// stopped after a restart; or a driver on a standalone cluster (DriverID),
// which outlives Sirocco, so a restarted Sirocco reattaches to it.
// "spark_submitting" is spark_rest's submission in flight (recover.go).
const (
	kindDriver = "spark_driver"
)

// handleVersion is the format Execute writes. Version 4 added Kube (the
// driver pod of a k8s:// master in cluster mode, named by Sirocco before
// spark-submit runs): a Sirocco that reads only version 3 would take such
// a handle for spark-submit alone and stop it, orphaning the pod. An
// older handle that names a driver pod (parsed from a waiting
// spark-submit's output) is read as a Kube driver whose namespace and
// kubernetes connection come from its Spark connection (kube.go). Version
// 3 added Remote (spark-submit on another host through ssh_conn_id).
// Version 2 is read as it is. Version 1 (stored without a version) kept
// spark-submit's process fields flat on the handle, and a client-mode
// spark-submit had kind "process": those are the process package's to
// stop, as they always were.
const handleVersion = 4

// Handle is what a Spark task stores on its task instance: how to reach the
// work it started, and the ids and links a user wants to see (`tasks state`
// shows it). It never holds a secret; the REST token is read again from the
// connection named by ConnID.
type Handle struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// Process is spark-submit on this host, stopped through the process
	// package (process.Handle.Stop) like any local child.
	Process *process.Handle `json:"process,omitempty"`
	// Remote is spark-submit on another host (ssh_conn_id), a detached
	// remote job: it outlives Sirocco, so it is followed again after a
	// restart, and stopped through remotejob.Stop.
	Remote *RemoteSubmit `json:"ssh,omitempty"`

	ConnID string `json:"conn_id,omitempty"`
	Master string `json:"master,omitempty"`
	// DeployMode is the try's (client or cluster): a resumed try tracks
	// a driver only in cluster mode. Empty in handles before version 3.
	DeployMode string `json:"deploy_mode,omitempty"`
	RESTURL    string `json:"rest_url,omitempty"`
	MasterUI   string `json:"master_ui,omitempty"`
	DriverID   string `json:"driver_id,omitempty"`
	AppID      string `json:"app_id,omitempty"`
	DriverPod  string `json:"driver_pod,omitempty"`
	SparkUI    string `json:"spark_ui,omitempty"`

	// Kube is the driver pod (DriverPod) of a k8s:// master in cluster
	// mode: where it is, how far its log is in the task log, its end.
	Kube *KubeDriver `json:"k8s,omitempty"`

	// Submission tags a spark_rest submission (kind spark_submitting) so
	// that its driver can be found after a crash; SubmittedAt is when the
	// tag was stored, in Unix milliseconds.
	Submission  string `json:"submission,omitempty"`
	SubmittedAt int64  `json:"submitted_at,omitempty"`
}

// RemoteSubmit is spark-submit running on the host of an ssh connection as
// a remote job (package remotejob). It is stored with JobID alone before
// the job is started, so that a Sirocco that dies while starting it leaves
// a handle by which the job is found (a start with the same JobID never
// starts a second one); Job is set once the start answered.
type RemoteSubmit struct {
	SSHConnID string            `json:"ssh_conn_id"`
	Host      string            `json:"host"` // user@host:port the job was started on
	JobID     string            `json:"job_id"`
	Job       *remotejob.Handle `json:"job,omitempty"`
	// Offsets are how much of the job's stdout and stderr is in the task
	// log: a resumed try continues from there.
	Offsets remotejob.Offsets `json:"offsets"`
	// ExitCode is spark-submit's, once read: a resumed try does not
	// follow a job that already ended (its directory may be cleaned up).
	ExitCode *int `json:"exit_code,omitempty"`
}

// check rejects a remote part that could point a stop elsewhere than at
// the job it names.
func (r *RemoteSubmit) check() error {
	switch {
	case connection.ValidateID(r.SSHConnID) != nil:
		return fmt.Errorf("ssh_conn_id %q is not a connection id", r.SSHConnID)
	case r.Host == "":
		return errors.New("a remote spark-submit needs the host it runs on")
	case !remotejob.ValidJobID(r.JobID):
		return fmt.Errorf("remote job id %q is not valid", r.JobID)
	case r.Offsets.Stdout < 0 || r.Offsets.Stderr < 0:
		return fmt.Errorf("remote offsets %+v are negative", r.Offsets)
	case r.ExitCode != nil && (*r.ExitCode < 0 || *r.ExitCode > 255):
		return fmt.Errorf("remote exit code %d is not 0 to 255", *r.ExitCode)
	case r.Job == nil:
		return nil
	case r.Job.JobID != r.JobID:
		return fmt.Errorf("remote job %q does not match job_id %q", r.Job.JobID, r.JobID)
	}
	return r.Job.Validate()
}

// legacyProcess holds the flat process fields of a version 1 handle.
type legacyProcess struct {
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	PGID      int    `json:"pgid"`
	StartTime uint64 `json:"start_time"`
}

// decodeHandle reads a stored Spark handle (any version) and checks what
// resuming or stopping it relies on: a kind of ours and a version we know;
// a driver id or submission tag with a master REST URL over http(s); a
// spark-submit process that passes process.Handle.Check, or a remote one
// whose job handle passes remotejob's Validate. A
// damaged handle is an error naming what is wrong, never a panic or a
// request to some other place.
func decodeHandle(b []byte) (Handle, error) {
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("decode Spark handle: %w", err)
	}
	if h.Remote != nil && h.Version < 3 {
		return Handle{}, fmt.Errorf("decode Spark handle: a version %d handle has no remote spark-submit (ssh)", h.Version)
	}
	if h.Kube != nil && h.Version < 4 {
		return Handle{}, fmt.Errorf("decode Spark handle: a version %d handle has no driver pod record (k8s)", h.Version)
	}
	if h.Version < 4 {
		upgradeKube(&h)
	}
	switch {
	case h.Version == 0 || h.Version == 1:
		if err := upgradeV1(b, &h); err != nil {
			return Handle{}, err
		}
	case h.Version > handleVersion:
		return Handle{}, fmt.Errorf("decode Spark handle: version %d is newer than this Sirocco reads (%d)", h.Version, handleVersion)
	case h.Version < 0:
		return Handle{}, fmt.Errorf("decode Spark handle: version %d", h.Version)
	}
	h.Version = handleVersion
	if h.Remote != nil {
		if h.Process != nil {
			return Handle{}, errors.New("decode Spark handle: spark-submit is either here (process) or remote (ssh), not both")
		}
		if err := h.Remote.check(); err != nil {
			return Handle{}, fmt.Errorf("decode Spark handle: %w", err)
		}
	}
	if h.Kube != nil {
		if err := h.checkKube(); err != nil {
			return Handle{}, fmt.Errorf("decode Spark handle: %w", err)
		}
	}
	if h.Process != nil {
		h.Process.Kind = process.Kind
		if err := h.Process.Check(); err != nil {
			return Handle{}, fmt.Errorf("decode Spark handle: spark-submit process: %w", err)
		}
	}
	switch h.Kind {
	case kindDriver:
		if h.DriverID == "" {
			return h, nil // spark-submit alone (client mode, or no driver yet)
		}
	case kindSubmitting:
		if h.Submission == "" || h.Remote != nil {
			return Handle{}, errors.New("decode Spark handle: a spark_submitting handle needs submission, and has no remote spark-submit")
		}
	default:
		return Handle{}, fmt.Errorf("decode Spark handle: unknown kind %q (want %s or %s)", h.Kind, kindDriver, kindSubmitting)
	}
	if u, err := url.Parse(h.RESTURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Handle{}, fmt.Errorf("decode Spark handle: rest_url %q is not an http(s) URL", h.RESTURL)
	}
	return h, nil
}

// upgradeV1 reads a version 1 handle into h: its flat process fields
// become Process, and a spark_driver needed its driver id.
func upgradeV1(b []byte, h *Handle) error {
	if h.Kind == kindDriver && h.DriverID == "" {
		return errors.New("decode Spark handle: a version 1 spark_driver handle needs driver_id")
	}
	var p legacyProcess
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode Spark handle: %w", err)
	}
	if p.PID != 0 || p.PGID != 0 {
		h.Process = &process.Handle{Kind: process.Kind, Version: 1, Host: p.Host, PID: p.PID, PGID: p.PGID, StartTime: p.StartTime}
	}
	h.Version = handleVersion
	return nil
}

// The patterns are compiled at their first use, not at start: every
// command of the binary would pay for them otherwise.
var (
	reDriverID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(driver-\d{14}-\d{4,})\b`) })
	reYarnApp  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(application_\d+_\d+)\b`) })
	reAppID    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`app ID (app-\d{14}-\d{4,})`) })
	reLocalApp = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(local-\d{10,})\b`) })
	// Spark 3, then Spark 4.
	reSparkUI = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`Bound SparkUI to \S+, and started at (https?://\S+)`)
	})
	reSparkUI4  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Start Jetty (\S+:\d+) for SparkUI`) })
	reDriverPod = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`pod name: (\S+)`) })
	reExitCode  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Exit code: (\d+)`) })
)

// found is what spark-submit's output told us.
type found struct {
	DriverID, AppID, DriverPod, SparkUI, ExitCode string
}

// reachable turns the address a UI bound to into one a browser can open:
// a UI bound to every interface (Spark 4 prints "0.0.0.0:4040") is reached
// by the name of the host spark-submit runs on (host: the ssh host), else
// this host's name, as Spark 3 printed it.
func reachable(hostPort, host string) string {
	h, port, err := net.SplitHostPort(hostPort)
	if err != nil || (h != "0.0.0.0" && h != "::") {
		return hostPort
	}
	if host != "" {
		return net.JoinHostPort(host, port)
	}
	name, err := os.Hostname()
	if err != nil || name == "" {
		return hostPort
	}
	return net.JoinHostPort(name, port)
}

// parseLine extracts ids and links from one line of spark-submit output,
// as Airflow's _process_spark_submit_log does, for spark-submit on this
// host.
func parseLine(line string, f *found) bool { return parseLineOn(line, f, "") }

// parseLineOn is parseLine for spark-submit on host ("": this one).
func parseLineOn(line string, f *found, host string) bool {
	changed := false
	set := func(dst *string, re func() *regexp.Regexp) {
		if *dst != "" {
			return
		}
		if m := re().FindStringSubmatch(line); m != nil {
			*dst = m[1]
			changed = true
		}
	}
	set(&f.DriverID, reDriverID)
	set(&f.AppID, reYarnApp)
	set(&f.AppID, reAppID)
	set(&f.AppID, reLocalApp)
	set(&f.SparkUI, reSparkUI)
	if f.SparkUI == "" {
		if m := reSparkUI4().FindStringSubmatch(line); m != nil {
			f.SparkUI, changed = "http://"+reachable(m[1], host), true
		}
	}
	set(&f.DriverPod, reDriverPod)
	if m := reExitCode().FindStringSubmatch(line); m != nil {
		f.ExitCode, changed = m[1], true
	}
	return changed
}

// watcher passes spark-submit's output to the task log and reports each
// newly found id, so the handle is stored as soon as it is known.
type watcher struct {
	out     io.Writer
	host    string // the host spark-submit runs on, for UI links ("": this one)
	onFound func(found)
	mu      sync.Mutex
	buf     []byte
	f       found
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	var changes []found
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if parseLineOn(string(w.buf[:i]), &w.f, w.host) {
			changes = append(changes, w.f)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64*1024 {
		w.buf = w.buf[len(w.buf)-64*1024:]
	}
	w.mu.Unlock()
	for _, f := range changes {
		w.onFound(f)
	}
	return w.out.Write(p)
}

func (w *watcher) result() found {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		parseLineOn(string(w.buf), &w.f, w.host)
	}
	return w.f
}
