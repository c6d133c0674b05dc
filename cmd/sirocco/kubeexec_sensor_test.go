package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRescheduleSensorPokesInPodsOfTheirOwn: a reschedule-mode sensor's
// pokes share their try's number, and under the Kubernetes executor each
// poke runs in a pod of its own; the next poke, claimed while the
// previous poke's pod is still being settled (poke_interval far below the
// time a pod takes to end), is not taken for the previous one: it gets
// its pod, the previous pod's end does not fail it, and every poke logs
// into try 1.
func TestRescheduleSensorPokesInPodsOfTheirOwn(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	s := newKubeSite(t, "kubernetes", map[string]string{"resched.yaml": fmt.Sprintf(`dag_id: resched
tasks:
  - id: wait
    operator: bash_sensor
    command: 'n=$(cat %[1]q 2>/dev/null || echo 0); echo $((n+1)) > %[1]q; echo "poke $((n+1))"; [ "$n" -ge 2 ]'
    mode: reschedule
    poke_interval: 50ms
    timeout: 5m
`, count)}, "  delete_worker_pods: false\n")
	srv := s.startServer()
	defer func() {
		if t.Failed() {
			t.Logf("standalone's log:\n%s", srv.log)
		}
	}()
	s.mustRun("dags", "trigger", "resched", "--run-id", "r1")
	s.waitRunSuccess("resched", "r1", 3*time.Minute)
	log := s.waitLog("resched", "r1", "wait", 1, "poke 1", "poke 2", "poke 3", "condition met at poke 3")
	if n := strings.Count(log, "starting try 1 of wait"); n != 3 {
		t.Errorf("try 1's log starts %d pokes, want 3:\n%s", n, log)
	}
	if strings.Contains(log, "ended without recording its outcome") {
		t.Errorf("a poke was failed as an infrastructure failure:\n%s", log)
	}
	if out, _, code := s.run("tasks", "logs", "resched", "r1", "wait", "--try", "2"); code == 0 && strings.TrimSpace(out) != "" {
		t.Errorf("a try 2 exists: the pokes spent a try:\n%s", out)
	}
	pods := podsOf(t, s.k, s.ns, "resched", "wait")
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
	}
	if len(names) != 3 {
		t.Errorf("%d worker pods for 3 pokes, want one each: %v", len(names), names)
	}
}
