package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestStartRunsNoHeavyInit: every command of the binary, `dags trigger`
// included, starts without the package initialisations that once took
// most of its start: client-go's Clientset (its scheme of every API group,
// the apply configurations' schema, the OpenAPI models) and the
// regular expressions of remotejob's rules. GODEBUG=inittrace=1 makes the
// runtime print each package's init with its allocations.
func TestStartRunsNoHeavyInit(t *testing.T) {
	cmd := exec.Command(binary, "--help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sirocco --help: %v\n%s", err, stderr.String())
	}
	heavy := []string{"k8s.io/client-go/kubernetes/scheme", "sigs.k8s.io/structured-merge-diff/v6/typed",
		"github.com/google/gnostic-models/", "k8s.io/client-go/applyconfigurations/"}
	lines := 0
	for line := range strings.Lines(stderr.String()) {
		f := strings.Fields(line) // init PKG @T ms, D ms clock, B bytes, A allocs
		if len(f) < 11 || f[0] != "init" {
			continue
		}
		lines++
		for _, h := range heavy {
			if strings.HasPrefix(f[1], h) {
				t.Errorf("the binary initialises %s at every start: %s", f[1], strings.TrimSpace(line))
			}
		}
		if allocs, _ := strconv.Atoi(f[9]); strings.HasPrefix(f[1], "github.com/sirocco-dev/sirocco/internal/remotejob") && allocs > 100 {
			t.Errorf("remotejob's init allocates %d times: %s", allocs, strings.TrimSpace(line))
		}
	}
	if lines == 0 {
		t.Fatalf("no init trace printed:\n%s", stderr.String())
	}
}
