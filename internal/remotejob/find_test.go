package remotejob

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFindReportsWithoutStarting: Find names nothing before a Start (and
// creates nothing, not even the base directory), the started job after
// it, and nothing again once the job was cleaned up.
func TestFindReportsWithoutStarting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := filepath.Join(t.TempDir(), "jobs")
	id := JobID("dag", "run", "find", 1)
	if _, found, err := Find(ctx, Local{}, base, id); err != nil || found {
		t.Fatalf("Find before Start: found %v, %v; want nothing", found, err)
	}
	if _, err := os.Stat(base); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Find created the base directory: %v", err)
	}
	h := startJob(t, Spec{Command: "echo once", BaseDir: base, JobID: id})
	got, found, err := Find(ctx, Local{}, base, id)
	if err != nil || !found || got != h {
		t.Fatalf("Find after Start: %+v, %v, %v; want %+v", got, found, err, h)
	}
	if code, out, _ := follow(t, h); code != 0 || out != "once\n" {
		t.Fatalf("the job ran as %d %q; Find must not start it again", code, out)
	}
	if err := Cleanup(ctx, Local{}, h); err != nil {
		t.Fatal(err)
	}
	if _, found, err := Find(ctx, Local{}, base, id); err != nil || found {
		t.Fatalf("Find after Cleanup: found %v, %v; want nothing", found, err)
	}
}

// TestStartQuick: a job that ends within the linger comes back from the
// start call with its exit code and whole output; one that does not comes
// back without, and Follow takes it from there; the offsets of a quick job
// are where its output ends.
func TestStartQuick(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	s := Spec{Command: "echo out; echo err >&2; exit 3", BaseDir: base, JobID: JobID("d", "r", "quick", 1)}
	h, fresh, q, err := StartQuick(ctx, Local{}, s, 5*time.Second)
	if err != nil || !fresh || q == nil {
		t.Fatalf("StartQuick = %+v, %v, %+v, %v", h, fresh, q, err)
	}
	if q.Code != 3 || string(q.Stdout) != "out\n" || string(q.Stderr) != "err\n" || q.Offsets != (Offsets{Stdout: 4, Stderr: 4}) {
		t.Fatalf("quick = %+v (stdout %q, stderr %q)", q, q.Stdout, q.Stderr)
	}
	gate := filepath.Join(t.TempDir(), "go")
	slow := Spec{Command: "echo a; while [ ! -e " + gate + " ]; do sleep 0.01; done; echo b", BaseDir: base, JobID: JobID("d", "r", "slow", 1)}
	h, _, q, err = StartQuick(ctx, Local{}, slow, 20*time.Millisecond)
	if err != nil || q != nil {
		t.Fatalf("StartQuick of a running job = %+v, %v; want no quick answer", q, err)
	}
	t.Cleanup(func() { stopQuietly(t, h) })
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := follow(t, h); code != 0 || out != "a\nb\n" {
		t.Fatalf("follow after StartQuick: %d %q", code, out)
	}
}
