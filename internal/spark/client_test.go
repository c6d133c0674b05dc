package spark_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/spark"
)

// TestToken: a token goes out as a bearer header on every kind of call,
// and shows in neither errors nor the client's description.
func TestToken(t *testing.T) {
	const token = "s3cret-t0ken"
	var (
		mu  sync.Mutex
		got []string
	)
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		r := got
		got = nil
		return r
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/submissions/status/driver-1":
			fmt.Fprint(w, `{"action":"SubmissionStatusResponse","driverState":"RUNNING","workerId":"w","success":true}`)
		case "/json/":
			if r.Header.Get("Authorization") == "" { // as Spark's JWSFilter answers
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, "<html>\n<head><title>Error 403 Forbidden</title></head>\n<body><h2>HTTP ERROR 403 Forbidden</h2></body>\n</html>")
				return
			}
			fmt.Fprint(w, `{"url":"spark://x:1","workers":[],"activedrivers":[{"id":"driver-1","starttime":"1700000000000","state":"RUNNING"}]}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"action":"ErrorResponse","message":"Authorization header is missing or invalid"}`)
		}
	}))
	defer srv.Close()
	c := &spark.Client{RESTURL: srv.URL, MasterUIURL: srv.URL, Token: token, HTTP: srv.Client()}

	st, err := c.Status(t.Context(), "driver-1")
	if err != nil || st.State != spark.StateRunning || st.WorkerID != "w" {
		t.Errorf("status: %s, %v", st, err)
	}
	ms, err := c.Master(t.Context())
	if err != nil || len(ms.ActiveDrivers) != 1 || ms.ActiveDrivers[0].StartTime.UnixMilli() != 1700000000000 {
		t.Errorf("master: %+v, %v", ms, err)
	}
	err = c.Kill(t.Context(), "driver-1")
	var se *spark.Error
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || !errors.Is(err, spark.ErrUnauthorized) ||
		!strings.Contains(err.Error(), "Authorization header") {
		t.Errorf("kill: %v, want ErrUnauthorized with the server's message", err)
	}
	want := []string{
		"GET /v1/submissions/status/driver-1 Bearer " + token,
		"GET /json/ Bearer " + token,
		"POST /v1/submissions/kill/driver-1 Bearer " + token,
	}
	if got := requests(); !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), token) || strings.Contains(c.String(), token) || strings.Contains(fmt.Sprint(c), token) {
		t.Errorf("token leaked: %v / %s", err, c)
	}

	anon := &spark.Client{RESTURL: srv.URL, MasterUIURL: srv.URL, HTTP: srv.Client()}
	if _, err := anon.Status(t.Context(), "driver-1"); err != nil {
		t.Fatal(err)
	}
	_, err = anon.Master(t.Context())
	if want := "spark: master state: unauthorized: HTTP 403: Error 403 Forbidden HTTP ERROR 403 Forbidden"; err == nil ||
		!errors.Is(err, spark.ErrUnauthorized) || err.Error() != want {
		t.Errorf("refused without a token: %v\nwant %s", err, want)
	}
	want = []string{"GET /v1/submissions/status/driver-1 ", "GET /json/ "}
	if got := requests(); !slices.Equal(got, want) {
		t.Errorf("without a token: %q, want %q", got, want)
	}
}

// TestPySparkRequest: the driver runs spark-submit against the master
// with the configuration, the Python files and the job's arguments.
func TestPySparkRequest(t *testing.T) {
	r := spark.PySparkRequest("spark://127.0.0.1:7077", "/jobs/wc.py", []string{"in", "--out"},
		map[string]string{"spark.executor.memory": "512m", "spark.driver.memory": "600m"},
		map[string]string{"PYSPARK_PYTHON": "/venv/bin/python"}, []string{"/jobs/lib.zip", "/jobs/util.py"})
	if r.AppResource != "file:/jobs/wc.py" || r.MainClass != spark.SparkSubmitClass {
		t.Errorf("resource %s, class %s", r.AppResource, r.MainClass)
	}
	wantArgs := []string{"--master", "spark://127.0.0.1:7077",
		"--conf", "spark.driver.memory=600m", "--conf", "spark.executor.memory=512m",
		"--py-files", "/jobs/lib.zip,/jobs/util.py", "/jobs/wc.py", "in", "--out"}
	if !slices.Equal(r.AppArgs, wantArgs) {
		t.Errorf("args %q\nwant %q", r.AppArgs, wantArgs)
	}
	for k, v := range map[string]string{
		"spark.master": "spark://127.0.0.1:7077", "spark.app.name": "wc", "spark.driver.memory": "600m",
		"spark.submit.deployMode": "client", "spark.driver.supervise": "false",
	} {
		if r.SparkProperties[k] != v {
			t.Errorf("property %s = %q, want %q", k, r.SparkProperties[k], v)
		}
	}
	if r.Env["PYSPARK_PYTHON"] != "/venv/bin/python" {
		t.Errorf("env %v", r.Env)
	}

	named := spark.PySparkRequest("spark://m:7077", "https://example.org/job.py", nil,
		map[string]string{"spark.app.name": "mine"}, nil, nil)
	if named.AppResource != "https://example.org/job.py" || named.SparkProperties["spark.app.name"] != "mine" {
		t.Errorf("URI resource %s, name %s", named.AppResource, named.SparkProperties["spark.app.name"])
	}
}

func TestDriverStatusTerminal(t *testing.T) {
	for state, terminal := range map[string]bool{
		spark.StateSubmitted: false, spark.StateRunning: false, spark.StateRelaunching: false,
		spark.StateUnknown: false, spark.StateKilled: true, spark.StateFailed: true,
		spark.StateFinished: true, spark.StateError: true,
	} {
		if got := (spark.DriverStatus{State: state}).Terminal(); got != terminal {
			t.Errorf("%s: Terminal() = %v", state, got)
		}
	}
}
