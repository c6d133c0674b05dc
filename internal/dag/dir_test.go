package dag

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
		filepath.Join(dir, "nested", "dup.yml"): filepath.Join(dir, "nested", "dup.yml") + `:2:9: dag_id: dag_id "good" is already defined in ` + filepath.Join(dir, "good.yaml"),
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
