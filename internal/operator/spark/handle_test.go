package spark

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// TestDecodeHandle: stored handles that resuming or stopping relies on
// are checked, those of version 1 (flat process fields, no version) are
// still read, and a damaged one is an error saying what is wrong.
func TestDecodeHandle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, wantErr string
		resumable           bool
		process             int  // pgid of the spark-submit process read, if any
		kube                bool // a driver pod read
	}{
		{name: "driver", data: `{"kind":"spark_driver","version":2,"driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066"}`, resumable: true},
		{name: "driver of version 1", data: `{"kind":"spark_driver","driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066","host":"h","pid":4242,"pgid":4242}`,
			resumable: true, process: 4242},
		{name: "submission", data: `{"kind":"spark_submitting","submission":"ab12","rest_url":"https://m:6066"}`, resumable: true},
		{name: "client mode", data: `{"kind":"spark_driver","version":2,"process":{"kind":"process","host":"h","pid":4242,"pgid":4242},"conn_id":"spark"}`, process: 4242},
		{name: "spark-submit not started yet", data: `{"kind":"spark_driver","version":2,"conn_id":"spark"}`},
		{name: "not JSON", data: `{"kind":`, wantErr: "decode Spark handle: unexpected end of JSON input"},
		{name: "unknown kind", data: `{"kind":"pod"}`, wantErr: `unknown kind "pod"`},
		{name: "a process handle is not Spark's", data: `{"kind":"process","host":"h","pid":4242,"pgid":4242}`, wantErr: `unknown kind "process"`},
		{name: "newer version", data: `{"kind":"spark_driver","version":5,"driver_id":"d","rest_url":"http://m:6066"}`, wantErr: "version 5 is newer"},
		{name: "driver pod", data: kubeHandle(""), resumable: true, kube: true},
		{name: "driver pod, spark-submit running", data: kubeHandle(`"process":{"kind":"process","host":"h","pid":4242,"pgid":4242}`), resumable: true, kube: true, process: 4242},
		{name: "driver pod of version 3", data: legacyKubeHandle(3, "cluster"), resumable: true, kube: true, process: 4242},
		{name: "driver pod of version 2", data: legacyKubeHandle(2, ""), resumable: true, kube: true, process: 4242},
		{name: "client mode of version 3 on k8s", data: legacyKubeHandle(3, "client"), process: 4242},
		{name: "driver pod record in version 3", data: strings.Replace(kubeHandle(""), `"version":4`, `"version":3`, 1), wantErr: "a version 3 handle has no driver pod record"},
		{name: "driver pod of another name", data: strings.Replace(kubeHandle(""), `"pi-0123456789ab-driver"`, `"Pi_Driver"`, 1), wantErr: `driver_pod "Pi_Driver"`},
		{name: "driver pod without a name", data: strings.Replace(kubeHandle(""), `"pi-0123456789ab-driver"`, `""`, 1), wantErr: `driver_pod ""`},
		{name: "driver pod and driver id", data: kubeHandle(`"driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066"`), wantErr: "the only driver"},
		{name: "driver pod in a bad namespace", data: strings.Replace(kubeHandle(""), `"jobs"`, `"../x"`, 1), wantErr: "not a valid namespace"},
		{name: "driver pod without its connection", data: strings.Replace(kubeHandle(""), `"kubernetes_conn_id":"k8s",`, ``, 1), wantErr: "stored together"},
		{name: "driver pod of a connection that is not an id", data: strings.Replace(kubeHandle(""), `"k8s",`, `"a b",`, 1), wantErr: "not a connection id"},
		{name: "driver pod submitted", data: strings.Replace(kubeHandle(""), `"kind":"spark_driver"`, `"kind":"spark_submitting"`, 1), wantErr: "the only driver"},
		{name: "remote spark-submit", data: remoteHandle(`"job":` + remoteJob + `,"offsets":{"stdout":10,"stderr":3}`), resumable: true},
		{name: "remote cluster driver", data: strings.Replace(remoteHandle(`"job":`+remoteJob+`,"exit_code":0`), `"conn_id"`,
			`"driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066","conn_id"`, 1), resumable: true},
		{name: "remote spark-submit not started yet", data: remoteHandle("")},
		{name: "remote in version 2", data: strings.Replace(remoteHandle(""), `"version":3`, `"version":2`, 1), wantErr: "a version 2 handle has no remote"},
		{name: "remote in version 1", data: strings.Replace(remoteHandle(""), `"version":3,`, ``, 1), wantErr: "a version 0 handle has no remote"},
		{name: "remote and local", data: strings.Replace(remoteHandle(""), `"ssh"`, `"process":{"host":"h","pid":4242,"pgid":4242},"ssh"`, 1), wantErr: "not both"},
		{name: "remote job of another id", data: remoteHandle(`"job":` + strings.ReplaceAll(remoteJob, jobID, "other")), wantErr: "does not match job_id"},
		{name: "remote job elsewhere", data: remoteHandle(`"job":` + strings.Replace(remoteJob, "/home/u/.sirocco/jobs/", "/etc/../", 1)),
			wantErr: "not an absolute clean path"},
		{name: "remote job group 1", data: remoteHandle(`"job":` + strings.Replace(remoteJob, `"pid":4242`, `"pid":1`, 1)), wantErr: "pid 1"},
		{name: "remote connection not an id", data: strings.Replace(remoteHandle(""), `"edge_node"`, `"../x"`, 1), wantErr: "not a connection id"},
		{name: "remote without host", data: strings.Replace(remoteHandle(""), `"u@h:22"`, `""`, 1), wantErr: "needs the host"},
		{name: "remote negative offsets", data: remoteHandle(`"offsets":{"stdout":-1}`), wantErr: "negative"},
		{name: "remote exit code 300", data: remoteHandle(`"exit_code":300`), wantErr: "not 0 to 255"},
		{name: "a submission is never remote", data: `{"kind":"spark_submitting","version":3,"submission":"ab12","rest_url":"http://m:6066","ssh":{"ssh_conn_id":"e","host":"h","job_id":"j"}}`,
			wantErr: "has no remote spark-submit"},
		{name: "driver of version 1 without id", data: `{"kind":"spark_driver","rest_url":"http://m:6066"}`, wantErr: "needs driver_id"},
		{name: "driver without URL", data: `{"kind":"spark_driver","version":2,"driver_id":"d"}`, wantErr: `rest_url "" is not an http(s) URL`},
		{name: "driver with a file URL", data: `{"kind":"spark_driver","driver_id":"d","rest_url":"file:///etc"}`, wantErr: "is not an http(s) URL"},
		{name: "process group 1", data: `{"kind":"spark_driver","version":2,"process":{"host":"h","pid":4242,"pgid":1}}`, wantErr: "pgid 1 must both be above 1"},
		{name: "process group 0 in version 1", data: `{"kind":"spark_driver","driver_id":"d","rest_url":"http://m:6066","pid":4242,"pgid":0}`, wantErr: "above 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := decodeHandle([]byte(tt.data))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("decodeHandle = %v, want error containing %q", err, tt.wantErr)
			}
			if canResume([]byte(tt.data)) != tt.resumable {
				t.Errorf("canResume = %v, want %v", !tt.resumable, tt.resumable)
			}
			if err != nil {
				return
			}
			if h.Version != handleVersion {
				t.Errorf("version %d, want %d once read", h.Version, handleVersion)
			}
			if (h.Kube != nil) != tt.kube {
				t.Errorf("driver pod %+v, want one: %v", h.Kube, tt.kube)
			}
			switch {
			case tt.process == 0 && h.Process != nil:
				t.Errorf("read a process %+v from a handle without one", h.Process)
			case tt.process != 0 && (h.Process == nil || h.Process.PGID != tt.process || h.Process.Kind != process.Kind):
				t.Errorf("process %+v, want group %d", h.Process, tt.process)
			}
		})
	}
}

// jobID, remoteJob and remoteHandle write remote handles as Execute stores
// them (version 3).
const (
	jobID     = "d_r_t_1_0123456789ab"
	remoteJob = `{"version":1,"job_id":"` + jobID + `","dir":"/home/u/.sirocco/jobs/` + jobID + `","pid":4242,"started_at":"2026-01-01T00:00:00Z"}`
)

func remoteHandle(more string) string {
	if more != "" {
		more = "," + more
	}
	return `{"kind":"spark_driver","version":3,"conn_id":"spark","master":"spark://m:7077","deploy_mode":"client",` +
		`"ssh":{"ssh_conn_id":"edge_node","host":"u@h:22","job_id":"` + jobID + `"` + more + `}}`
}

// kubeHandle is a driver pod's handle as Execute stores it (version 4).
func kubeHandle(more string) string {
	if more != "" {
		more += ","
	}
	return `{"kind":"spark_driver","version":4,"conn_id":"spark","master":"k8s://https://h:6443","deploy_mode":"cluster",` + more +
		`"driver_pod":"pi-0123456789ab-driver","k8s":{"kubernetes_conn_id":"k8s","namespace":"jobs","log":{"time":"0001-01-01T00:00:00Z"}}}`
}

// legacyKubeHandle is what a Sirocco before version 4 stored for
// spark-submit waiting for a driver pod whose name it printed.
func legacyKubeHandle(version int, deployMode string) string {
	return fmt.Sprintf(`{"kind":"spark_driver","version":%d,"conn_id":"spark","master":"k8s://https://h:6443","deploy_mode":%q,`+
		`"driver_pod":"spark-pi-1a2b3c-driver","process":{"kind":"process","host":"h","pid":4242,"pgid":4242}}`, version, deployMode)
}

// TestKillOrphanRefusesDamagedGroups: a process handle naming group 0 (our
// own) or 1 (kill(-1): every process) is refused before any signal.
func TestKillOrphanRefusesDamagedGroups(t *testing.T) {
	t.Parallel()
	for _, pgid := range []int{-3, 0, 1} {
		h, _ := json.Marshal(process.Handle{Kind: "process", Host: hostnameForTest(t), PID: 999999999, PGID: pgid})
		killed, err := process.KillOrphan(h, 0)
		if err == nil || killed {
			t.Errorf("pgid %d: KillOrphan = %v, %v; want an error and nothing killed", pgid, killed, err)
		}
	}
}

// FuzzHandleJSON: decoding a stored handle (the Spark operator's, the
// process handle the process recoverer stops, the envelope the engine
// dispatches by, all read from the store or a try's log) never panics;
// what it accepts keeps the invariants the stop and resume paths rely on,
// and what it refuses gets an error that says it is a handle that failed
// to decode.
func FuzzHandleJSON(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"process","host":"h","pid":4242,"pgid":4242,"start_time":1,"try_id":"w/d/r/t/1"}`,
		`{"kind":"spark_driver","driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066","conn_id":"spark"}`,
		`{"kind":"spark_driver","version":2,"process":{"kind":"process","host":"h","pid":4242,"pgid":4242},"driver_id":"d","rest_url":"http://m:6066"}`,
		`{"kind":"spark_driver","version":2,"process":{"pid":4242,"pgid":1}}`, `{"kind":"spark_driver","version":2,"process":null}`,
		`{"kind":"spark_submitting","submission":"ab12","submitted_at":1,"rest_url":"http://m:6066"}`,
		`{"kind":"process","host":"h","pid":99999,"pgid":1}`, `{"kind":"process","pid":-1,"pgid":0}`,
		`{"pid":4242,"pgid":4242}`, `{"kind":"process","version":0}`, `{"kind":"spark_driver","version":-1}`,
		`null`, `[]`, `"process"`, `{"kind":"spark_driver","driver_id":"d","rest_url":"http://[::1"}`,
		`{"kind":"process","pid":1e99}`, "\xff\xfe{", `{"kind":"x","version":1.5}`,
		remoteHandle(`"job":` + remoteJob), remoteHandle(""),
		kubeHandle(""), kubeHandle(`"app_id":"spark-0a"`), legacyKubeHandle(3, "cluster"), legacyKubeHandle(2, ""),
		`{"kind":"spark_driver","version":4,"driver_pod":"p","k8s":{}}`, `{"kind":"spark_driver","version":4,"driver_pod":"p","k8s":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, version, kerr := operator.HandleKind(data)
		if kerr != nil && !strings.HasPrefix(kerr.Error(), "decode handle: ") {
			t.Fatalf("envelope error %q does not say what failed", kerr)
		}
		if kerr == nil && (kind == "" || version < 1) {
			t.Fatalf("envelope accepted kind %q version %d", kind, version)
		}
		ph, err := process.DecodeHandle(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "decode process handle: ") {
				t.Fatalf("process error %q does not say what failed", err)
			}
		} else if ph.Kind == process.Kind && ((ph.PID != 0 || ph.PGID != 0) && (ph.PID <= 1 || ph.PGID <= 1) || ph.Version > process.HandleVersion) {
			t.Fatalf("accepted a process handle with pid %d, pgid %d, version %d", ph.PID, ph.PGID, ph.Version)
		}
		h, err := decodeHandle(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "decode ") {
				t.Fatalf("spark error %q does not say what failed", err)
			}
			if canResume(data) {
				t.Fatal("canResume accepted a handle decodeHandle refused")
			}
			return
		}
		if h.Version != handleVersion {
			t.Fatalf("read version %d", h.Version)
		}
		if r := h.Remote; r != nil && (h.Process != nil || h.Kind != kindDriver || r.Job != nil && (r.Job.Validate() != nil || r.Job.JobID != r.JobID)) {
			t.Fatalf("accepted a remote spark-submit %+v in %+v", r, h)
		}
		if k := h.Kube; k != nil && (kube.CheckPodName(h.DriverPod) != nil || h.DriverID != "" || h.Remote != nil || h.Kind != kindDriver ||
			k.Namespace != "" && kube.CheckNamespace(k.Namespace) != nil || (k.Namespace == "") != (k.ConnID == "")) {
			t.Fatalf("accepted a driver pod %+v in %+v", k, h)
		}
		if p := h.Process; p != nil && (p.Kind != process.Kind || (p.PID != 0 || p.PGID != 0) && (p.PID <= 1 || p.PGID <= 1)) {
			t.Fatalf("accepted a spark-submit process %+v", p)
		}
		switch {
		case h.Kind == kindDriver && h.DriverID == "": // spark-submit alone
		case h.Kind == kindDriver, h.Kind == kindSubmitting:
			if u, err := url.Parse(h.RESTURL); err != nil || u.Host == "" || (h.DriverID == "" && h.Submission == "") {
				t.Fatalf("accepted %+v", h)
			}
		default:
			t.Fatalf("accepted kind %q", h.Kind)
		}
	})
}

func hostnameForTest(t *testing.T) string {
	t.Helper()
	var h process.Handle
	// A handle Run makes names this host.
	if err := process.Run(t.Context(), process.Spec{Argv: []string{"true"}, NoteHandle: func(b []byte) { _ = json.Unmarshal(b, &h) }}); err != nil {
		t.Fatal(err)
	}
	return h.Host
}
