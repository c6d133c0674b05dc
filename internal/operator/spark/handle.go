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

	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// Handle kinds. A "process" handle is spark-submit running here (client
// mode, or before a cluster driver exists): it dies with Sirocco and is
// retried. A "spark_driver" handle is a driver on a standalone cluster: it
// outlives Sirocco, so a restarted Sirocco reattaches to it.
const (
	kindProcess = "process"
	kindDriver  = "spark_driver"
)

// Handle is what a Spark task stores on its task instance: how to reach the
// work it started, and the ids and links a user wants to see (`tasks state`
// shows it). It never holds a secret; the REST token is read again from the
// connection named by ConnID.
type Handle struct {
	Kind      string `json:"kind"`
	Host      string `json:"host,omitempty"`
	PID       int    `json:"pid,omitempty"`
	PGID      int    `json:"pgid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`

	ConnID    string `json:"conn_id,omitempty"`
	Master    string `json:"master,omitempty"`
	RESTURL   string `json:"rest_url,omitempty"`
	MasterUI  string `json:"master_ui,omitempty"`
	DriverID  string `json:"driver_id,omitempty"`
	AppID     string `json:"app_id,omitempty"`
	DriverPod string `json:"driver_pod,omitempty"`
	SparkUI   string `json:"spark_ui,omitempty"`

	// Submission tags a spark_rest submission (kind spark_submitting) so
	// that its driver can be found after a crash; SubmittedAt is when the
	// tag was stored, in Unix milliseconds.
	Submission  string `json:"submission,omitempty"`
	SubmittedAt int64  `json:"submitted_at,omitempty"`
}

// decodeHandle reads a stored Spark handle and checks what resuming it
// relies on: a known kind, and for a driver or a submission its id or tag
// and a master REST URL over http(s). A damaged handle is an error naming
// what is wrong, never a panic or a request to some other place.
func decodeHandle(b []byte) (Handle, error) {
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("decode Spark handle: %w", err)
	}
	switch h.Kind {
	case kindProcess:
		if _, err := process.DecodeHandle(b); err != nil {
			return Handle{}, err
		}
		return h, nil
	case kindDriver:
		if h.DriverID == "" {
			return Handle{}, errors.New("decode Spark handle: a spark_driver handle needs driver_id")
		}
	case kindSubmitting:
		if h.Submission == "" {
			return Handle{}, errors.New("decode Spark handle: a spark_submitting handle needs submission")
		}
	default:
		return Handle{}, fmt.Errorf("decode Spark handle: unknown kind %q (want %s, %s or %s)", h.Kind, kindProcess, kindDriver, kindSubmitting)
	}
	if u, err := url.Parse(h.RESTURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Handle{}, fmt.Errorf("decode Spark handle: rest_url %q is not an http(s) URL", h.RESTURL)
	}
	return h, nil
}

var (
	reDriverID  = regexp.MustCompile(`\b(driver-\d{14}-\d{4,})\b`)
	reYarnApp   = regexp.MustCompile(`\b(application_\d+_\d+)\b`)
	reAppID     = regexp.MustCompile(`app ID (app-\d{14}-\d{4,})`)
	reLocalApp  = regexp.MustCompile(`\b(local-\d{10,})\b`)
	reSparkUI   = regexp.MustCompile(`Bound SparkUI to \S+, and started at (https?://\S+)`) // Spark 3
	reSparkUI4  = regexp.MustCompile(`Start Jetty (\S+:\d+) for SparkUI`)                   // Spark 4
	reDriverPod = regexp.MustCompile(`pod name: (\S+)`)
	reExitCode  = regexp.MustCompile(`Exit code: (\d+)`)
)

// found is what spark-submit's output told us.
type found struct {
	DriverID, AppID, DriverPod, SparkUI, ExitCode string
}

// parseLine extracts ids and links from one line of spark-submit output,
// as Airflow's _process_spark_submit_log does.
// reachable turns the address a UI bound to into one a browser can open:
// a UI bound to every interface (Spark 4 prints "0.0.0.0:4040") is reached
// by this host's name, as Spark 3 printed it (the driver runs here in
// client and local mode).
func reachable(hostPort string) string {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || (host != "0.0.0.0" && host != "::") {
		return hostPort
	}
	name, err := os.Hostname()
	if err != nil || name == "" {
		return hostPort
	}
	return net.JoinHostPort(name, port)
}

func parseLine(line string, f *found) bool {
	changed := false
	set := func(dst *string, re *regexp.Regexp) {
		if *dst != "" {
			return
		}
		if m := re.FindStringSubmatch(line); m != nil {
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
		if m := reSparkUI4.FindStringSubmatch(line); m != nil {
			f.SparkUI, changed = "http://"+reachable(m[1]), true
		}
	}
	set(&f.DriverPod, reDriverPod)
	if m := reExitCode.FindStringSubmatch(line); m != nil {
		f.ExitCode, changed = m[1], true
	}
	return changed
}

// watcher passes spark-submit's output to the task log and reports each
// newly found id, so the handle is stored as soon as it is known.
type watcher struct {
	out     io.Writer
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
		if parseLine(string(w.buf[:i]), &w.f) {
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
		parseLine(string(w.buf), &w.f)
	}
	return w.f
}
