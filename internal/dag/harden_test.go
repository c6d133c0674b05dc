package dag

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// minimalDAG is a valid DAG with extra lines spliced in at the top level.
func minimalDAG(extra string) []byte {
	return []byte("dag_id: x\n" + extra + "tasks: [{id: a, operator: empty}]\n")
}

// TestParserPanicIsAnImportError: a panic in any parser a file reaches
// (here the schedule parser, through the test seam) becomes an error of
// that file at the value being read, and the rest of the folder loads.
func TestParserPanicIsAnImportError(t *testing.T) {
	opts := testOpts
	opts.parseSchedule = func(spec string, loc *time.Location) (Schedule, error) {
		if spec == "boom" {
			panic("slice bounds out of range [:-1]")
		}
		return ParseSchedule(spec, loc)
	}
	src := "dag_id: x\nschedule: boom\nstart_date: 2026-01-01\ntasks: [{id: a, operator: empty}]\n"
	d, err := Parse("p.yaml", []byte(src), opts)
	if d != nil {
		t.Fatalf("Parse returned DAG %+v", d)
	}
	want := `p.yaml:2:11: schedule: internal error while reading this value: slice bounds out of range [:-1] (please report it)`
	if got := errorLines(t, err); len(got) != 1 || got[0] != want {
		t.Errorf("errors = %q, want [%q]", got, want)
	}

	dir := t.TempDir()
	writeDAG(t, filepath.Join(dir, "good.yaml"), "good")
	if err := os.WriteFile(filepath.Join(dir, "panics.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bag, err := LoadDir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if bag.DAGs["good"] == nil || len(bag.DAGs) != 1 {
		t.Errorf("DAGs = %v, want good only", bag.IDs())
	}
	if err := bag.Errors[filepath.Join(dir, "panics.yaml")]; err == nil || !strings.Contains(err.Error(), "schedule: internal error") {
		t.Errorf("panics.yaml error = %v", err)
	}
}

// TestLongScalars: durations, dates, zones and schedules are refused past a
// small length, with file, line and field, in linear time and memory. The
// first case used to overflow the stack (one recursion per minus sign).
func TestLongScalars(t *testing.T) {
	minus := strings.Repeat("-", 4<<20)
	tests := []struct {
		name, extra, want string
	}{
		{"minus signs", "default_args: {retry_delay: \"" + minus + "5s\"}\n",
			`s.yaml:2:29: default_args.retry_delay: duration too long (max 64 bytes)`},
		{"long duration", "dagrun_timeout: " + strings.Repeat("1", 1<<20) + "s\n",
			`s.yaml:2:17: dagrun_timeout: duration too long (max 64 bytes)`},
		{"long date", "start_date: \"2026-01-01" + strings.Repeat(" ", 1<<20) + "x\"\n",
			`s.yaml:2:13: start_date: date too long (max 64 bytes)`},
		{"long zone", "timezone: " + strings.Repeat("Europe/", 1<<17) + "Paris\n",
			`s.yaml:2:11: timezone: time zone name too long (max 64 bytes)`},
		{"long schedule", "schedule: \"" + strings.Repeat("0,", 1<<18) + "0 * * * *\"\n",
			`s.yaml:2:11: schedule: schedule too long (max 256 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := minimalDAG(tt.extra)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Parse("s.yaml", data, testOpts)
			runtime.ReadMemStats(&after)
			if got := errorLines(t, err); len(got) != 1 || got[0] != tt.want {
				t.Errorf("errors = %.300q, want [%q]", got, tt.want)
			}
			// yaml.v3 keeps a few copies of the input; 535 MB for 1 MiB of
			// minus signs was the recursion's.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40*uint64(len(data)) {
				t.Errorf("allocated %d MB for %d bytes", alloc>>20, len(data))
			}
		})
	}
}

// TestErrorsStayShort: whatever a file holds, its import error quotes only
// fragments of it and lists a bounded number of problems, so a symlink to
// a secret or a generated file cannot flood the store, the API or a
// terminal.
func TestErrorsStayShort(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+tokentoken"
	token := "sk_live_51HxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789" // a valid anchor name
	files := []struct{ name, src, secret string }{
		{"shadow-like key", "root:$6$" + secret + ":19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n", secret},
		{"env-like string", "S=" + secret + "\n", secret},
		{"long flow key", "{\"" + secret + strings.Repeat("x", 1<<16) + "\": 1}\n", secret},
		{"long integer", "dag_id: x\nmax_active_runs: " + strings.Repeat("9", 1<<16) + "\ntasks: [{id: a, operator: empty}]\n", "9999999999999999999999999999999999999999999"},
		{"recursive alias", "dag_id: x\nparams: {p: &" + token + " [*" + token + "]}\ntasks: [{id: a, operator: empty}]\n", token},
		{"unknown anchor", "dag_id: x\ntasks: *" + token + "\n", token},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(f.src), testOpts)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), f.secret) {
				t.Errorf("error quotes the whole line: %.500s", err)
			}
			for _, fe := range FileErrors(err) {
				if len(fe.Msg) > maxMsgLen+len("…") || len(fe.Field) > maxFieldLen+8 {
					t.Errorf("message of %d bytes, field of %d: %.200s", len(fe.Msg), len(fe.Field), fe)
				}
			}
		})
	}

	var b strings.Builder
	b.WriteString("dag_id: x\ntasks: [{id: a, operator: empty}]\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "unknown_%d: 1\n", i)
	}
	_, err := Parse("many.yaml", []byte(b.String()), testOpts)
	fes := FileErrors(err)
	if len(fes) != maxFileErrors+1 || fes[len(fes)-1].Msg != "9900 more problems not shown" {
		t.Errorf("%d problems listed, last %v", len(fes), fes[len(fes)-1])
	}
}

// TestDeepKeysCostLinearMemory: a field path stops growing, so a thousand
// nested kilobyte keys do not build a thousand half-megabyte paths.
func TestDeepKeysCostLinearMemory(t *testing.T) {
	key := strings.Repeat("k", 1000)
	depth := 1000
	src := "dag_id: x\ntasks: [{id: a, operator: empty}]\nparams: {p: {type: object, default: " +
		strings.Repeat("{"+key+": ", depth) + "[1, {a: 1, a: 2}]" + strings.Repeat("}", depth) + "}}\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse("deep.yaml", []byte(src), testOpts)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), `.…: duplicate key "a"`) {
		t.Errorf("err = %.300v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("allocated %d MB for %d bytes", alloc>>20, len(src))
	}
}

// TestManyReferencesLoadFast: unknown dependencies cost their hints only
// within a budget, and repeated ones are found in a set, so a file of many
// tasks and many bad references loads in linear time (this took hours).
func TestManyReferencesLoadFast(t *testing.T) {
	var b strings.Builder
	b.WriteString("dag_id: x\ntasks:\n")
	const n = 20_000
	for i := range n {
		fmt.Fprintf(&b, "  - {id: t%d, operator: empty}\n", i)
	}
	b.WriteString("  - id: last\n    operator: empty\n    depends_on: [")
	for i := range n {
		fmt.Fprintf(&b, "u%d, t%d, ", i, i)
	}
	b.WriteString("t0]\n")
	start := time.Now()
	_, err := Parse("refs.yaml", []byte(b.String()), testOpts)
	if took := time.Since(start); took > 60*time.Second { // a second under -race; minutes before
		t.Errorf("took %v", took)
	}
	if fes := FileErrors(err); len(fes) != maxFileErrors+1 || !strings.Contains(fes[0].Msg, `unknown task "u0"`) {
		t.Errorf("%d problems, first %v", len(fes), fes[0])
	}
}
