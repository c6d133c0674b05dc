package kubebed

import (
	"strings"
	"testing"
)

// TestProcAddrInUse: only the current run's log decides a retry on other
// ports; an earlier run's lost port does not mask a new failure.
func TestProcAddrInUse(t *testing.T) {
	dir := t.TempDir()
	log := dir + "/x.log"
	run := func(script string) *proc {
		p, err := startProc("x", dir, log, false, nil, "/bin/sh", "-c", script)
		if err != nil {
			t.Fatal(err)
		}
		<-p.done
		return p
	}
	if p := run("echo 'listen tcp 127.0.0.1:1: bind: address already in use'; exit 1"); !p.addrInUse() {
		t.Errorf("lost port not seen in:\n%s", Tail(log))
	}
	if p := run("echo 'some other failure'; exit 1"); p.addrInUse() || !strings.Contains(p.failure(), "some other failure") {
		t.Errorf("second run: addrInUse %v, failure %s", p.addrInUse(), p.failure())
	}
}
