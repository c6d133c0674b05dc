package kubernetes

import (
	"strings"
	"testing"
)

const goodHandle = `{"kind":"kubernetes_pod","version":1,"conn_id":"kubernetes_default","namespace":"jobs","name":"run-abcdefgh",` +
	`"uid":"0b5c","labels":{"dag_id":"d","task_id":"t","run_id":"r","try_number":"1","kubernetes_pod_operator":"True",` +
	`"app.kubernetes.io/managed-by":"sirocco"},"container":"base","on_finish_action":"delete_pod","get_logs":true,` +
	`"do_xcom_push":false,"reattach_on_restart":true,"log_events_on_failure":true,"startup_timeout_seconds":120,` +
	`"schedule_timeout_seconds":120,"log":{"time":"2026-01-01T10:00:00.5Z","seen":2}}`

// TestHandleRoundTrip: what a try stores reads back the same.
func TestHandleRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := decodeHandle([]byte(goodHandle))
	if err != nil {
		t.Fatal(err)
	}
	again, err := decodeHandle(h.encode())
	if err != nil || again.Name != "run-abcdefgh" || again.Log.Seen != 2 || !again.Reattach || again.Labels["try_number"] != "1" {
		t.Errorf("round trip %+v, %v", again, err)
	}
	if !(Recoverer{}).CanResume([]byte(goodHandle)) {
		t.Error("CanResume(reattach_on_restart) = false")
	}
	noReattach := strings.Replace(goodHandle, `"reattach_on_restart":true`, `"reattach_on_restart":false`, 1)
	if (Recoverer{}).CanResume([]byte(noReattach)) {
		t.Error("CanResume(reattach_on_restart false) = true: the pod must be deleted and the try run again")
	}
}

// TestDamagedHandles: a damaged handle must not point a delete anywhere.
func TestDamagedHandles(t *testing.T) {
	t.Parallel()
	for change, want := range map[[2]string]string{
		{`"name":"run-abcdefgh"`, `"name":"../x"`}:                       "not a valid pod name",
		{`"namespace":"jobs"`, `"namespace":""`}:                         "not a valid namespace",
		{`"conn_id":"kubernetes_default"`, `"conn_id":""`}:               "no connection id",
		{`"try_number":"1"`, `"try_number":"one"`}:                       "not a number",
		{`"on_finish_action":"delete_pod"`, `"on_finish_action":"x"`}:    "on_finish_action",
		{`"startup_timeout_seconds":120`, `"startup_timeout_seconds":0`}: "timeouts",
		{`"version":1`, `"version":2`}:                                   "version 2",
		{`"dag_id":"d",`, ``}:                                            "labels lack dag_id",
	} {
		b := strings.Replace(goodHandle, change[0], change[1], 1)
		if _, err := decodeHandle([]byte(b)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s → %s: err %v, want %q", change[0], change[1], err, want)
		}
	}
}
