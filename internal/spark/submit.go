package spark

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultClientSparkVersion is sent as the client's Spark version when a
// request names none. The REST protocol (v1) requires the field but the
// master does not compare it with its own version.
const DefaultClientSparkVersion = "4.0.1"

// SparkSubmitClass is the main class that makes a driver run spark-submit
// itself, the way to run Python applications on a standalone cluster.
const SparkSubmitClass = "org.apache.spark.deploy.SparkSubmit"

// SubmitRequest is a CreateSubmissionRequest: what the master needs to
// launch a driver on one of its workers.
type SubmitRequest struct {
	// AppResource is the application jar (or .py file) as a URI the
	// worker can fetch: file:/abs/path when workers share the file
	// system, or http(s)://, hdfs://… The worker copies it into the
	// driver's work directory.
	AppResource string
	// MainClass is the driver's main class.
	MainClass string
	// AppArgs are the arguments of MainClass's main method.
	AppArgs []string
	// SparkProperties become -D options of the driver JVM, and set its
	// memory (spark.driver.memory), cores and class path. Include
	// spark.master (the cluster's spark:// URL) and spark.app.name.
	SparkProperties map[string]string
	// Env is the driver's environment, on top of the worker's. The
	// master drops SPARK_LOCAL_IP and SPARK_LOCAL_HOSTNAME, which belong
	// to the worker.
	Env map[string]string
	// ClientSparkVersion defaults to DefaultClientSparkVersion.
	ClientSparkVersion string
}

// createRequest is the wire form of SubmitRequest.
type createRequest struct {
	Action               string            `json:"action"`
	AppResource          string            `json:"appResource"`
	MainClass            string            `json:"mainClass"`
	AppArgs              []string          `json:"appArgs"`
	SparkProperties      map[string]string `json:"sparkProperties"`
	EnvironmentVariables map[string]string `json:"environmentVariables"`
	ClientSparkVersion   string            `json:"clientSparkVersion"`
}

// PySparkRequest builds the request that runs the Python application
// pyFile with args on the cluster at master (spark://host:port). The driver
// runs org.apache.spark.deploy.SparkSubmit, as Spark's submit_pi.sh example
// does, since standalone cluster mode does not launch .py files itself; that
// spark-submit runs in client mode inside the driver, so the Python process
// and its SparkContext live in the driver the master tracks.
//
// conf is passed both ways Spark reads it: as the driver JVM's properties,
// which size the driver (spark.driver.memory, spark.driver.cores), and as
// --conf options of the inner spark-submit, which configure the
// application. pyFiles become --py-files. env is the driver's environment;
// set PYSPARK_PYTHON there unless the workers already do. pyFile and
// pyFiles are paths the worker can read, or URIs; spark.app.name defaults
// to pyFile's base name (the application may still set its own).
func PySparkRequest(master, pyFile string, args []string, conf, env map[string]string, pyFiles []string) SubmitRequest {
	props := maps.Clone(conf)
	if props == nil {
		props = map[string]string{}
	}
	props["spark.master"] = master
	props["spark.submit.deployMode"] = "client" // of the inner spark-submit
	if _, ok := props["spark.app.name"]; !ok {
		props["spark.app.name"] = strings.TrimSuffix(path.Base(filepath.ToSlash(pyFile)), ".py")
	}
	if _, ok := props["spark.driver.supervise"]; !ok {
		props["spark.driver.supervise"] = "false"
	}

	appArgs := []string{"--master", master}
	for _, k := range slices.Sorted(maps.Keys(conf)) {
		appArgs = append(appArgs, "--conf", k+"="+conf[k])
	}
	if len(pyFiles) > 0 {
		appArgs = append(appArgs, "--py-files", strings.Join(pyFiles, ","))
	}
	appArgs = append(appArgs, pyFile)
	appArgs = append(appArgs, args...)

	return SubmitRequest{
		AppResource:     fileURI(pyFile),
		MainClass:       SparkSubmitClass,
		AppArgs:         appArgs,
		SparkProperties: props,
		Env:             maps.Clone(env),
	}
}

// fileURI turns a local path into a file: URI and leaves URIs alone.
func fileURI(p string) string {
	if u, err := url.Parse(p); err == nil && len(u.Scheme) > 1 { // not a Windows drive letter
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return "file:" + filepath.ToSlash(p)
}

// Submit asks the master to launch a driver and returns its submission id
// (the driver id, "driver-…"). The master queues the driver until a worker
// has room for it, so a successful Submit says nothing yet about the
// application; follow it with Status.
func (c *Client) Submit(ctx context.Context, r SubmitRequest) (string, error) {
	if r.AppResource == "" || r.MainClass == "" {
		return "", errors.New("spark: submit: AppResource and MainClass are required")
	}
	body := createRequest{
		Action:               "CreateSubmissionRequest",
		AppResource:          r.AppResource,
		MainClass:            r.MainClass,
		AppArgs:              r.AppArgs,
		SparkProperties:      r.SparkProperties,
		EnvironmentVariables: r.Env,
		ClientSparkVersion:   r.ClientSparkVersion,
	}
	if body.AppArgs == nil {
		body.AppArgs = []string{}
	}
	if body.SparkProperties == nil {
		body.SparkProperties = map[string]string{}
	}
	if body.EnvironmentVariables == nil {
		body.EnvironmentVariables = map[string]string{}
	}
	if body.ClientSparkVersion == "" {
		body.ClientSparkVersion = DefaultClientSparkVersion
	}
	op := "submit " + r.MainClass
	resp, err := c.rest(ctx, op, http.MethodPost, "/v1/submissions/create", body)
	if err != nil {
		return "", err
	}
	if resp.Success == nil || !*resp.Success || resp.SubmissionID == "" {
		return "", &Error{Op: op, StatusCode: http.StatusOK, Message: cleanMessage(resp.Message)}
	}
	return resp.SubmissionID, nil
}

// Driver states, as the master reports them.
const (
	StateSubmitted   = "SUBMITTED"   // queued: waiting for a worker with room
	StateRunning     = "RUNNING"     // launched on a worker
	StateRelaunching = "RELAUNCHING" // supervised driver restarting after a failure
	StateUnknown     = "UNKNOWN"     // its worker was lost; the master is recovering
	StateKilled      = "KILLED"      // killed on request
	StateFailed      = "FAILED"      // exited with a non-zero status
	StateFinished    = "FINISHED"    // exited with status 0
	StateError       = "ERROR"       // could not be launched (bad jar, worker error…)
)

// DriverStatus is what the master knows about a driver.
type DriverStatus struct {
	// State is one of the State constants.
	State string
	// WorkerID and WorkerHostPort name the worker running (or that ran)
	// the driver; empty while it waits for one. WorkerWebUI turns the id
	// into the address DriverLog needs.
	WorkerID, WorkerHostPort string
	// Message is the exception the master recorded for the driver, if
	// any (for instance why it could not be launched), with its Java
	// stack trace.
	Message string
}

// Terminal reports whether the driver has ended and its state will not
// change again.
func (s DriverStatus) Terminal() bool {
	switch s.State {
	case StateKilled, StateFailed, StateFinished, StateError:
		return true
	}
	return false
}

// Status returns the state of driver id. A driver the master does not know
// (never submitted, or forgotten after a master restart without recovery)
// is an error wrapping ErrNotFound.
func (c *Client) Status(ctx context.Context, id string) (DriverStatus, error) {
	op := "status of " + id
	resp, err := c.rest(ctx, op, http.MethodGet, "/v1/submissions/status/"+url.PathEscape(id), nil)
	if err != nil {
		return DriverStatus{}, err
	}
	if resp.Success == nil || !*resp.Success {
		return DriverStatus{}, &Error{Op: op, StatusCode: http.StatusOK, Message: cleanMessage(resp.Message), Err: ErrNotFound}
	}
	if resp.DriverState == "" {
		return DriverStatus{}, &Error{Op: op, StatusCode: http.StatusOK, Message: "answer without a driver state"}
	}
	return DriverStatus{
		State:          resp.DriverState,
		WorkerID:       resp.WorkerID,
		WorkerHostPort: resp.WorkerHostPort,
		Message:        resp.Message,
	}, nil
}

// Kill asks the master to kill driver id. The kill is asynchronous: the
// driver reaches KILLED shortly after, which Status shows. A driver that
// has already ended, or never existed, is an error wrapping ErrNotRunning.
func (c *Client) Kill(ctx context.Context, id string) error {
	op := "kill " + id
	resp, err := c.rest(ctx, op, http.MethodPost, "/v1/submissions/kill/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	if resp.Success == nil || !*resp.Success {
		return &Error{Op: op, StatusCode: http.StatusOK, Message: cleanMessage(resp.Message), Err: ErrNotRunning}
	}
	return nil
}

// String reads "RUNNING on worker-…", for logs and test failures.
func (s DriverStatus) String() string {
	if s.WorkerID == "" {
		return s.State
	}
	return fmt.Sprintf("%s on %s", s.State, s.WorkerID)
}
