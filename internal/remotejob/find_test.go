package remotejob

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
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
