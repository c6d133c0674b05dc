package all_test

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

// TestStoredHandlesOfEveryVersionAreDispatched: handles as earlier
// Sirocco versions stored them (literal JSON of each shape) still reach
// the recoverer of their kind, which reads them and resumes only the work
// that outlives a worker.
func TestStoredHandlesOfEveryVersionAreDispatched(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, handle, kind string
		resumable          bool
	}{
		{name: "process, first format", kind: "process",
			handle: `{"kind":"process","host":"h","pid":4242,"pgid":4242,"start_time":99}`},
		{name: "process, before kinds", kind: "process",
			handle: `{"host":"h","pid":4242,"pgid":4242,"start_time":99}`},
		{name: "process with a try identity", kind: "process",
			handle: `{"kind":"process","version":1,"host":"h","pid":4242,"pgid":4242,"start_time":99,"try_id":"w/d/r/t/1"}`},
		{name: "process, identity only", kind: "process",
			handle: `{"kind":"process","version":1,"host":"h","pid":0,"pgid":0,"start_time":0,"try_id":"w/d/r/t/1"}`},
		{name: "spark_submit v1, client mode (a process kind)", kind: "process",
			handle: `{"kind":"process","host":"h","pid":4242,"pgid":4242,"start_time":99,"conn_id":"spark_default","master":"spark://m:7077","rest_url":"http://m:6066","master_ui":"http://m:8080","app_id":"app-20260101000000-0001","spark_ui":"http://m:8080/app/?appId=app-20260101000000-0001"}`},
		{name: "spark_submit v1, YARN cluster mode (a process kind)", kind: "process",
			handle: `{"kind":"process","host":"h","pid":4242,"pgid":4242,"start_time":99,"conn_id":"spark_yarn","master":"yarn","app_id":"application_1700000000000_0001"}`},
		{name: "spark_submit v1, standalone cluster driver", kind: "spark_driver", resumable: true,
			handle: `{"kind":"spark_driver","host":"h","pid":4242,"pgid":4242,"start_time":99,"conn_id":"spark_default","master":"spark://m:7077","rest_url":"http://m:6066","driver_id":"driver-20260101000000-0001"}`},
		{name: "spark_rest v1, submitting", kind: "spark_submitting", resumable: true,
			handle: `{"kind":"spark_submitting","conn_id":"spark_default","master":"spark://m:7077","rest_url":"http://m:6066","submission":"0123456789abcdef01234567","submitted_at":1767225600000}`},
		{name: "spark_rest v1, driver", kind: "spark_driver", resumable: true,
			handle: `{"kind":"spark_driver","conn_id":"spark_default","master":"spark://m:7077","rest_url":"http://m:6066","driver_id":"driver-20260101000000-0001","submission":"0123456789abcdef01234567","submitted_at":1767225600000}`},
		{name: "kubernetes_pod v1", kind: "kubernetes_pod", resumable: true,
			handle: `{"kind":"kubernetes_pod","version":1,"conn_id":"kubernetes_default","namespace":"jobs","name":"run-abcdefgh","uid":"0b5c","labels":{"dag_id":"d","task_id":"t","run_id":"r","try_number":"1","kubernetes_pod_operator":"True","app.kubernetes.io/managed-by":"sirocco"},"container":"base","on_finish_action":"delete_pod","get_logs":true,"reattach_on_restart":true,"startup_timeout_seconds":120,"schedule_timeout_seconds":120,"log":{"time":"0001-01-01T00:00:00Z"}}`},
		{name: "spark v2, client mode", kind: "spark_driver",
			handle: `{"kind":"spark_driver","version":2,"process":{"kind":"process","version":1,"host":"h","pid":4242,"pgid":4242,"start_time":99},"conn_id":"spark_default","master":"local[2]"}`},
		{name: "spark v2, cluster driver", kind: "spark_driver", resumable: true,
			handle: `{"kind":"spark_driver","version":2,"process":{"kind":"process","version":1,"host":"h","pid":4242,"pgid":4242,"start_time":99},"conn_id":"spark_default","rest_url":"http://m:6066","driver_id":"driver-20260101000000-0001"}`},
	}
	reg := all.Registry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, kind, err := reg.RecovererOf([]byte(tt.handle))
			if err != nil || kind != tt.kind {
				t.Fatalf("RecovererOf = %q, %v; want kind %q", kind, err, tt.kind)
			}
			if got := rec.CanResume([]byte(tt.handle)); got != tt.resumable {
				t.Errorf("CanResume = %v, want %v", got, tt.resumable)
			}
		})
	}
}
