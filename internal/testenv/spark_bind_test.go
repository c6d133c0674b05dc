package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBindFailedReadsTheWholeLog: the master log of a port race (CI9c)
// holds the BindException line above a Netty stack trace longer than the
// 20-line tail, and the start must still be retried on new ports.
func TestBindFailedReadsTheWholeLog(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stack := strings.Repeat("\tat io.netty.channel.AbstractChannel.bind(AbstractChannel.java:259)\n", 40)
	race := write("race.log", "Exception in thread \"main\" java.net.BindException: Address already in use\n"+stack)
	other := write("other.log", "Exception in thread \"main\" java.lang.OutOfMemoryError\n"+stack)
	if !strings.Contains(tail(race), "netty") || strings.Contains(tail(race), "BindException") {
		t.Fatal("the test log no longer puts the exception above the tail")
	}
	if !bindFailed(race) {
		t.Error("a BindException above a long stack trace is not seen as a port race")
	}
	if bindFailed(other) {
		t.Error("an unrelated failure is taken for a port race")
	}
	if bindFailed(filepath.Join(dir, "missing.log")) {
		t.Error("a missing log is taken for a port race")
	}
}
