package spark

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// TestDecodeHandle: stored handles that resuming or killing relies on are
// checked, and a damaged one is an error saying what is wrong.
func TestDecodeHandle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, wantErr string
		resumable           bool
	}{
		{name: "driver", data: `{"kind":"spark_driver","driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066"}`, resumable: true},
		{name: "submission", data: `{"kind":"spark_submitting","submission":"ab12","rest_url":"https://m:6066"}`, resumable: true},
		{name: "spark-submit process", data: `{"kind":"process","host":"h","pid":4242,"pgid":4242}`},
		{name: "not JSON", data: `{"kind":`, wantErr: "decode Spark handle: unexpected end of JSON input"},
		{name: "unknown kind", data: `{"kind":"pod"}`, wantErr: `unknown kind "pod"`},
		{name: "driver without id", data: `{"kind":"spark_driver","rest_url":"http://m:6066"}`, wantErr: "needs driver_id"},
		{name: "driver without URL", data: `{"kind":"spark_driver","driver_id":"d"}`, wantErr: `rest_url "" is not an http(s) URL`},
		{name: "driver with a file URL", data: `{"kind":"spark_driver","driver_id":"d","rest_url":"file:///etc"}`, wantErr: "is not an http(s) URL"},
		{name: "process group 1", data: `{"kind":"process","host":"h","pid":4242,"pgid":1}`, wantErr: "pgid 1 must both be above 1"},
		{name: "process group 0", data: `{"kind":"process","host":"h","pid":4242,"pgid":0}`, wantErr: "above 1"},
		{name: "process not started yet", data: `{"kind":"process","conn_id":"spark"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeHandle([]byte(tt.data))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("decodeHandle = %v, want error containing %q", err, tt.wantErr)
			}
			if canResume([]byte(tt.data)) != tt.resumable {
				t.Errorf("canResume = %v, want %v", !tt.resumable, tt.resumable)
			}
		})
	}
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
// process handle the engine's recovery kills by, both read from the store
// or a try's log) never panics; what it accepts keeps the invariants the
// kill and resume paths rely on, and what it refuses gets an error that
// says it is a handle that failed to decode.
func FuzzHandleJSON(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"process","host":"h","pid":4242,"pgid":4242,"start_time":1,"try_id":"w/d/r/t/1"}`,
		`{"kind":"spark_driver","driver_id":"driver-20260101000000-0001","rest_url":"http://m:6066","conn_id":"spark"}`,
		`{"kind":"spark_submitting","submission":"ab12","submitted_at":1,"rest_url":"http://m:6066"}`,
		`{"kind":"process","host":"h","pid":99999,"pgid":1}`, `{"kind":"process","pid":-1,"pgid":0}`,
		`null`, `[]`, `"process"`, `{"kind":"spark_driver","driver_id":"d","rest_url":"http://[::1"}`,
		`{"kind":"process","pid":1e99}`, "\xff\xfe{",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ph, err := process.DecodeHandle(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "decode process handle: ") {
				t.Fatalf("process error %q does not say what failed", err)
			}
		} else if ph.Kind == "process" && (ph.PID != 0 || ph.PGID != 0) && (ph.PID <= 1 || ph.PGID <= 1) {
			t.Fatalf("accepted a process handle with pid %d, pgid %d", ph.PID, ph.PGID)
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
		switch h.Kind {
		case kindProcess:
			if (h.PID != 0 || h.PGID != 0) && (h.PID <= 1 || h.PGID <= 1) {
				t.Fatalf("accepted a spark-submit handle with pid %d, pgid %d", h.PID, h.PGID)
			}
		case kindDriver, kindSubmitting:
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
