package tasklog

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300)
	tests := []struct {
		name           string
		dag, run, task string
		try            int
		want           string
	}{
		{name: "layout", dag: "etl", run: "manual__2026-02-03T04:05:06+00:00", task: "extract", try: 1,
			want: "/logs/dag_id=etl/run_id=manual__2026-02-03T04:05:06+00:00/task_id=extract/attempt=1.log"},
		{name: "later try", dag: "etl", run: "r", task: "t", try: 12, want: "/logs/dag_id=etl/run_id=r/task_id=t/attempt=12.log"},
		{name: "every character a run id may have", dag: "d", run: "aZ09_.~:+-", task: "t", try: 1,
			want: "/logs/dag_id=d/run_id=aZ09_.~:+-/task_id=t/attempt=1.log"},
		{name: "slashes escaped", dag: "a/b", run: "x/../y", task: "../../etc", try: 2,
			want: "/logs/dag_id=a%2Fb/run_id=x%2F..%2Fy/task_id=..%2F..%2Fetc/attempt=2.log"},
		{name: "percent escaped", dag: "d", run: "col%2Flide", task: "t", try: 1,
			want: "/logs/dag_id=d/run_id=col%252Flide/task_id=t/attempt=1.log"},
		{name: "NUL escaped", dag: "d", run: "a\x00b", task: "t", try: 1,
			want: "/logs/dag_id=d/run_id=a%00b/task_id=t/attempt=1.log"},
		{name: "dots stay inside", dag: "..", run: ".", task: "..", try: 1,
			want: "/logs/dag_id=../run_id=./task_id=../attempt=1.log"},
	}
	for _, tt := range tests {
		got := Path("/logs", tt.dag, tt.run, tt.task, tt.try)
		if got != tt.want {
			t.Errorf("%s: Path = %s, want %s", tt.name, got, tt.want)
		}
	}

	// A name the file system would refuse keeps its start and ends with
	// the digest of the whole id.
	got := filepath.Base(filepath.Dir(filepath.Dir(Path("/logs", "d", long, "t", 1))))
	want := regexp.MustCompile(`^run_id=a{182}%h[0-9a-f]{64}$`)
	if !want.MatchString(got) || len(got) != maxName {
		t.Errorf("long run id: folder %s (%d bytes), want %s", got, len(got), want)
	}
	if got := Path("/logs", "d", "a%"+long, "t", 1); !strings.Contains(got, "/run_id=a%25aaa") {
		t.Errorf("a long name is cut between escapes: %s", got)
	}
}

// TestPathDistinct is the bug this layout fixes: "col/lide" and
// "col_lide" used to share a log file.
func TestPathDistinct(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	long := strings.Repeat("x", 250)
	ids := []string{"col/lide", "col_lide", "col%2Flide", "col%252Flide", "a\x00b", "a%00b",
		long, long + "y", long + "z", strings.Repeat("%", 200), strings.Repeat("/", 200), "é" + long}
	seen := map[string]string{}
	for _, id := range ids {
		p := Path(base, "d", id, "t", 1)
		if other, ok := seen[p]; ok {
			t.Errorf("run ids %q and %q share %s", other, id, p)
		}
		seen[p] = id
		// Every one is a file the system accepts, of its own.
		w, err := Create(p)
		if err != nil {
			t.Fatalf("run id %q: %v", id, err)
		}
		w.Printf("%s", id)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for p, id := range seen {
		data, err := os.ReadFile(p)
		if err != nil || !strings.HasSuffix(string(data), "] "+id+"\n") {
			t.Errorf("log of %q holds %q (%v)", id, data, err)
		}
	}
}

// FuzzRunIDLogPath checks, for any two run ids, that each log path stays
// under the logs folder, is made of names the file system accepts, and
// that distinct ids get distinct paths.
func FuzzRunIDLogPath(f *testing.F) {
	for _, seed := range [][2]string{
		{"col/lide", "col_lide"}, {"col%2Flide", "col/lide"}, {"..", "."}, {"../../etc", "..%2F..%2Fetc"},
		{"a\x00b", "a%00b"}, {strings.Repeat("a", 300), strings.Repeat("a", 301)},
		{strings.Repeat("%", 90), strings.Repeat("/", 90)}, {"manual__2026-01-01T00:00:00+00:00", "manual__2026-01-01T00:00:00Z"},
		{"\xff\xfe", "\xef\xbf\xbd"}, {"", " "},
	} {
		f.Add(seed[0], seed[1])
	}
	const base = "/logs"
	f.Fuzz(func(t *testing.T, a, b string) {
		pa := checkPath(t, base, a)
		pb := checkPath(t, base, b)
		if a != b && pa == pb {
			t.Fatalf("run ids %q and %q share the log %s", a, b, pa)
		}
		if a == b && pa != pb {
			t.Fatalf("run id %q has two logs: %s and %s", a, pa, pb)
		}
		// An id in one place never names the folder of another place.
		if Path(base, a, b, "t", 1) == Path(base, b, a, "t", 1) && a != b {
			t.Fatalf("dag and run ids %q, %q are interchangeable", a, b)
		}
	})
}

// checkPath returns the log path of run id in base after checking it is
// base/dag_id=d/run_id=…/task_id=t/attempt=1.log with a run folder name
// the file system accepts.
func checkPath(t *testing.T, base, id string) string {
	t.Helper()
	p := Path(base, "d", id, "t", 1)
	rel, err := filepath.Rel(base, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		t.Fatalf("run id %q: log %s is outside %s", id, p, base)
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || parts[0] != "dag_id=d" || parts[2] != "task_id=t" || parts[3] != "attempt=1.log" {
		t.Fatalf("run id %q: log %s does not have the layout", id, p)
	}
	name := parts[1]
	if !strings.HasPrefix(name, "run_id=") || len(name) > maxName || strings.ContainsRune(name, 0) {
		t.Fatalf("run id %q: folder name %q is not one the file system accepts", id, name)
	}
	return p
}

func TestCut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"ab%25c", 4, "ab"}, {"ab%25c", 5, "ab%25"},
		{"aé", 2, "a"}, {"aé", 3, "aé"}, {"a\xffb", 2, "a\xff"},
	} {
		if got := cut(tt.name, tt.n); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.name, tt.n, got, tt.want)
		}
	}
}
