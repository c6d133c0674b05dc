package engine

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator/all"
)

// reloadWithin is Reload failing the test, rather than hanging it, when the
// reload does not return in time.
func reloadWithin(t *testing.T, b *Bag) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.Reload() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Reload hangs")
	}
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBagReloadKeepsTheHolderOfADagID: a file added later with the dag_id
// of a loaded DAG, even one that sorts first, is an import error; the
// running DAG keeps its file and tasks until that file goes away.
func TestBagReloadKeepsTheHolderOfADagID(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeFile(t, b, "dag_id: x\ntasks: [{id: from_b, operator: empty}]\n")
	bag := NewBag(dir, all.Registry().Specs())
	reloadWithin(t, bag)
	writeFile(t, a, "dag_id: x\ntasks: [{id: from_a, operator: empty}]\n")
	for range 2 {
		reloadWithin(t, bag)
		if d := bag.DAGs()["x"]; d == nil || d.FileLoc != b || d.Tasks[0].ID != "from_b" {
			t.Fatalf("x = %+v, want b's", d)
		}
		if err := bag.Errors()[a]; err == nil || !strings.Contains(err.Error(), `dag_id "x" is already defined in `+b) {
			t.Fatalf("a.yaml error = %v", err)
		}
	}
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	reloadWithin(t, bag)
	if d := bag.DAGs()["x"]; d == nil || d.FileLoc != a || len(bag.Errors()) != 0 {
		t.Fatalf("after b is deleted: x = %+v, errors %v", d, bag.Errors())
	}
}

// TestBagReloadSkipsAFIFO: a named pipe in the DAGs folder used to hang
// start-up, every rescan and so shutdown; now it is an import error.
func TestBagReloadSkipsAFIFO(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yaml"), "dag_id: good\ntasks: [{id: a, operator: empty}]\n")
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	bag := NewBag(dir, all.Registry().Specs())
	reloadWithin(t, bag)
	reloadWithin(t, bag)
	if bag.DAGs()["good"] == nil || bag.Errors()[fifo] == nil || !strings.Contains(bag.Errors()[fifo].Error(), "named pipe") {
		t.Errorf("DAGs %v errors %v", bag.DAGs(), bag.Errors())
	}
}

// TestWatchReportsAFileThatBreaks: a DAG file broken while Sirocco runs is
// reported in the service log at the next rescan, once, and its repair too.
func TestWatchReportsAFileThatBreaks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.yaml")
	good := "dag_id: d\ntasks:\n  - {id: a, operator: empty}\n"
	writeFile(t, path, good)
	b := NewBag(dir, all.Registry().Specs())
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(&out, nil))
	rescan := func() string {
		t.Helper()
		out.Reset()
		if err := b.reloadAndReport(log); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := rescan(); got != "" {
		t.Fatalf("a good folder logged %q", got)
	}
	writeFile(t, path, "dag_id: d\ntasks: 3\n")
	if got := rescan(); !strings.Contains(got, "DAG file not loaded") || !strings.Contains(got, "d.yaml") {
		t.Fatalf("a file that broke was not reported: %q", got)
	}
	if got := rescan(); got != "" {
		t.Errorf("an unchanged error was reported again: %q", got)
	}
	writeFile(t, path, good)
	if got := rescan(); !strings.Contains(got, "no import errors any more") {
		t.Errorf("the repair was not reported: %q", got)
	}
}
