package dag

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoadDir(t *testing.T) {
	dir := filepath.Join("testdata", "dir")
	bag, err := LoadDir(dir, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got := bag.IDs(); !reflect.DeepEqual(got, []string{"good", "other"}) {
		t.Errorf("IDs = %v", got)
	}
	if d := bag.DAGs["good"]; d == nil || d.FileLoc != filepath.Join(dir, "good.yaml") {
		t.Errorf("good DAG = %+v", d)
	}
	want := map[string]string{
		filepath.Join(dir, "broken.yaml"):       filepath.Join(dir, "broken.yaml") + `:3:5: tasks[a]: missing required key "command" (operator "bash" needs it)` + "\n" + filepath.Join(dir, "broken.yaml") + `:5:14: tasks[a].retries: expected an integer, got string "two"`,
		filepath.Join(dir, "nested", "dup.yml"): filepath.Join(dir, "nested", "dup.yml") + `:2:9: dag_id: dag_id "good" is already defined in ` + filepath.Join(dir, "good.yaml") + "; this file is ignored while that one defines it",
	}
	got := map[string]string{}
	for path, err := range bag.Errors {
		got[path] = err.Error()
		if len(FileErrors(err)) == 0 {
			t.Errorf("%s: error %v holds no *FileError", path, err)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Errors:\n got %q\nwant %q", got, want)
	}
}

func TestLoadDirUnreadable(t *testing.T) {
	if _, err := LoadDir(filepath.Join("testdata", "no_such_dir"), testOpts); err == nil || !strings.Contains(err.Error(), "no_such_dir") {
		t.Errorf("err = %v, want one naming the folder", err)
	}
	if _, err := LoadDir(filepath.Join("testdata", "valid", "full.yaml"), testOpts); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("err = %v, want not a directory", err)
	}
}

func TestLoadDirUnreadableSubdir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads anything: an unreadable folder cannot be made (not a missing component)")
	}
	dir := t.TempDir()
	writeDAG(t, filepath.Join(dir, "a.yaml"), "a")
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	bag, err := LoadDir(dir, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if bag.DAGs["a"] == nil || bag.Errors[locked] == nil {
		t.Errorf("DAGs %v Errors %v", bag.IDs(), bag.Errors)
	}
}

func TestLoadDirEmpty(t *testing.T) {
	bag, err := LoadDir(t.TempDir(), testOpts)
	if err != nil || len(bag.DAGs) != 0 || len(bag.Errors) != 0 || len(bag.IDs()) != 0 {
		t.Errorf("bag %+v err %v", bag, err)
	}
}

// TestLoadDirSymlinks mimics a Kubernetes ConfigMap mount: the folder and
// its files are symlinks into a hidden folder.
func TestLoadDirSymlinks(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "real", "..2026_01_01")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeDAG(t, filepath.Join(data, "a.yaml"), "a")
	mount := filepath.Join(tmp, "real")
	if err := os.Symlink("..2026_01_01", filepath.Join(mount, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "a.yaml"), filepath.Join(mount, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "dags")
	if err := os.Symlink(mount, link); err != nil {
		t.Fatal(err)
	}
	bag, err := LoadDir(link, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if d := bag.DAGs["a"]; d == nil || d.FileLoc != filepath.Join(link, "a.yaml") || len(bag.DAGs) != 1 || len(bag.Errors) != 0 {
		t.Errorf("DAGs %v errors %v", bag.DAGs, bag.Errors)
	}
}

func writeDAG(t testing.TB, path, id string) {
	t.Helper()
	src := fmt.Sprintf(`dag_id: %s
schedule: "@hourly"
start_date: 2026-01-01
default_args: {retries: 2, retry_delay: 30s}
params: {input: {type: string, default: /data}}
tasks:
  - id: extract
    operator: bash
    command: echo "{{ ds }}"
  - id: transform
    operator: python
    depends_on: [extract]
    script: jobs/t.py
    args: ["{{ params.input }}"]
  - id: done
    operator: empty
    depends_on: [transform]
`, id)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLoadDir1000 loads a folder of 1,000 small DAG files; the target
// is well under a second on two cores.
func BenchmarkLoadDir1000(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		sub := filepath.Join(dir, fmt.Sprintf("team%02d", i%10))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		writeDAG(b, filepath.Join(sub, fmt.Sprintf("dag_%04d.yaml", i)), fmt.Sprintf("dag_%04d", i))
	}
	b.ResetTimer()
	for b.Loop() {
		bag, err := LoadDir(dir, testOpts)
		if err != nil || len(bag.DAGs) != 1000 {
			b.Fatalf("loaded %d DAGs, errors %v, err %v", len(bag.DAGs), bag.Errors, err)
		}
	}
}

// loadDirWithin is LoadDir failing the test, rather than hanging it, when
// the load does not return in time.
func loadDirWithin(t *testing.T, dir string, opts LoadOptions, prev *Bag) *Bag {
	t.Helper()
	type result struct {
		bag *Bag
		err error
	}
	done := make(chan result, 1)
	go func() {
		bag, err := Rescan(dir, opts, prev)
		done <- result{bag, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.bag
	case <-time.After(20 * time.Second):
		t.Fatal("loading the folder hangs")
		return nil
	}
}

// TestLoadDirSkipsNonRegularFiles: a named pipe, a socket or a symlink to a
// device named *.yaml is an import error of its own, found without opening
// it (a pipe used to hang every scan), and the folder's other files load.
func TestLoadDirSkipsNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	writeDAG(t, filepath.Join(dir, "good.yaml"), "good")
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.yaml")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	device := filepath.Join(dir, "device.yaml")
	if err := os.Symlink("/dev/zero", device); err != nil {
		t.Fatal(err)
	}
	bag := loadDirWithin(t, dir, testOpts, nil)
	if bag.DAGs["good"] == nil || len(bag.DAGs) != 1 {
		t.Errorf("DAGs = %v", bag.IDs())
	}
	want := map[string]string{
		fifo:   fifo + ": not loaded: a named pipe (FIFO), not a regular file",
		sock:   sock + ": not loaded: a socket, not a regular file",
		device: device + ": not loaded: a character device, not a regular file",
	}
	for path, msg := range want {
		if err := bag.Errors[path]; err == nil || err.Error() != msg {
			t.Errorf("%s: error %v, want %q", path, err, msg)
		}
	}
	if len(bag.Errors) != len(want) {
		t.Errorf("errors %v", bag.Errors)
	}
}

// TestLoadDirFileTooLarge: a file over MaxFileSize is refused without
// being read whole, whatever its size claims, and so is a symlink to one
// outside the folder (symlinks are followed, as git-sync needs).
func TestLoadDirFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 1<<40); err != nil { // sparse: a terabyte of nothing
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "image.bin")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(outside, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if _, err := readDAGFile("/proc/self/maps"); err != nil { // claims 0 bytes, holds more
		t.Errorf("read /proc/self/maps: %v", err)
	}
	bag := loadDirWithin(t, dir, testOpts, nil)
	for _, path := range []string{big, link} {
		if err := bag.Errors[path]; err == nil || err.Error() != path+": not loaded: larger than 8 MiB" {
			t.Errorf("%s: error = %v", path, err)
		}
	}
}

// TestLoadDirReadTimeout: a read that does not return (a hung network file
// system) costs one scan its timeout, is not started again by the next
// scans while it lasts, and blocks no other file.
func TestLoadDirReadTimeout(t *testing.T) {
	dir := t.TempDir()
	writeDAG(t, filepath.Join(dir, "good.yaml"), "good")
	slow := filepath.Join(dir, "slow.yaml")
	writeDAG(t, slow, "slow")
	release := make(chan struct{})
	var calls atomic.Int32
	opts := testOpts
	opts.ReadTimeout = 50 * time.Millisecond
	opts.readFile = func(path string) ([]byte, error) {
		if path == slow {
			calls.Add(1)
			<-release
		}
		return readDAGFile(path)
	}
	first := loadDirWithin(t, dir, opts, nil)
	second := loadDirWithin(t, dir, opts, first)
	close(release)
	for i, bag := range []*Bag{first, second} {
		if bag.DAGs["good"] == nil || len(bag.DAGs) != 1 {
			t.Errorf("scan %d: DAGs = %v", i+1, bag.IDs())
		}
	}
	if err := first.Errors[slow]; err == nil || !strings.Contains(err.Error(), "reading the file took longer than 50ms") {
		t.Errorf("first scan: %v", err)
	}
	if err := second.Errors[slow]; err == nil || !strings.Contains(err.Error(), "a read started by an earlier scan has not returned") {
		t.Errorf("second scan: %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d reads of the stuck file, want 1", n)
	}
}

// TestLoadDirGitSync mimics git-sync: the DAGs folder is a symlink to the
// current checkout, a DAG file is a symlink to a shared file outside it,
// and the folder is also reached through a symlinked parent.
func TestLoadDirGitSync(t *testing.T) {
	root := t.TempDir()
	checkout := filepath.Join(root, ".worktrees", "3f2a9c")
	if err := os.MkdirAll(filepath.Join(checkout, "dags"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeDAG(t, filepath.Join(checkout, "dags", "a.yaml"), "a")
	shared := filepath.Join(root, "shared.yaml")
	writeDAG(t, shared, "shared")
	if err := os.Symlink(shared, filepath.Join(checkout, "dags", "shared.yaml")); err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(root, "current")
	if err := os.Symlink(filepath.Join(".worktrees", "3f2a9c"), current); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(current, "dags"), filepath.Join(root, "dags")} {
		if dir == filepath.Join(root, "dags") {
			if err := os.Symlink(filepath.Join("current", "dags"), dir); err != nil {
				t.Fatal(err)
			}
		}
		bag := loadDirWithin(t, dir, testOpts, nil)
		if got := bag.IDs(); !reflect.DeepEqual(got, []string{"a", "shared"}) || len(bag.Errors) != 0 {
			t.Errorf("%s: DAGs %v errors %v", dir, got, bag.Errors)
		}
		if d := bag.DAGs["shared"]; d == nil || d.FileLoc != filepath.Join(dir, "shared.yaml") {
			t.Errorf("%s: shared DAG %+v", dir, d)
		}
	}
}

// TestRescanKeepsTheHolderOfADagID: the file that defines a dag_id keeps it
// across scans; another file with the same id, added or edited later, is
// an error naming both files and never replaces the running DAG. The id
// moves only when its holder is deleted or changes its dag_id.
func TestRescanKeepsTheHolderOfADagID(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write := func(path, id, task string) {
		t.Helper()
		src := fmt.Sprintf("dag_id: %s\ntasks: [{id: %s, operator: empty}]\n", id, task)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, bag *Bag, holder, task, dup string) {
		t.Helper()
		d := bag.DAGs["x"]
		switch {
		case holder == "" && d != nil:
			t.Errorf("%s: x is loaded from %s", step, d.FileLoc)
		case holder != "" && (d == nil || d.FileLoc != holder || d.Tasks[0].ID != task):
			t.Errorf("%s: x = %+v, want from %s with task %s", step, d, holder, task)
		}
		if dup == "" {
			return
		}
		want := dup + ":1:9: dag_id: dag_id \"x\" is already defined in " + holder + "; this file is ignored while that one defines it"
		if err := bag.Errors[dup]; err == nil || err.Error() != want {
			t.Errorf("%s: %s error = %v, want %q", step, dup, err, want)
		}
	}

	write(b, "x", "from_b")
	bag := loadDirWithin(t, dir, testOpts, nil)
	check("b alone", bag, b, "from_b", "")

	write(a, "x", "from_a") // a sorts first, but b holds x
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("a added", bag, b, "from_b", a)
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("a unchanged", bag, b, "from_b", a)
	write(a, "x", "from_a_edited")
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("a edited", bag, b, "from_b", a)

	// A half-saved holder keeps its id: its DAG is gone, a does not take over.
	if err := os.WriteFile(b, []byte("dag_id: x\ntasks: [{id: ["), 0o644); err != nil {
		t.Fatal(err)
	}
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("b broken", bag, "", "", "")
	if bag.Errors[a] == nil || bag.Errors[b] == nil {
		t.Errorf("b broken: errors %v", bag.Errors)
	}
	write(b, "x", "from_b_fixed")
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("b fixed", bag, b, "from_b_fixed", a)

	write(b, "y", "from_b") // the holder moves to another id: a takes x
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("b renamed", bag, a, "from_a_edited", "")
	if bag.DAGs["y"] == nil || len(bag.Errors) != 0 {
		t.Errorf("b renamed: DAGs %v errors %v", bag.IDs(), bag.Errors)
	}

	write(b, "x", "from_b") // now b is the newcomer
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("b back", bag, a, "from_a_edited", b)
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	bag = loadDirWithin(t, dir, testOpts, bag)
	check("a deleted", bag, b, "from_b", "")

	// A cold load picks in path order, whatever held the id before.
	write(a, "x", "from_a")
	check("cold", loadDirWithin(t, dir, testOpts, nil), a, "from_a", b)
}
