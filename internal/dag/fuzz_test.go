package dag

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/template"
)

// FuzzLoad feeds arbitrary bytes to Parse: it must never panic (nor hide a
// panic as an "internal error"), and it must return either a complete DAG
// or only *FileError problems, never both or neither.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.y*ml")
	nested, _ := filepath.Glob("testdata/*/*/*.y*ml")
	for _, path := range append(files, nested...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("dag_id: x\ntasks: [{id: a, operator: empty, depends_on: [a]}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {dag_id: x}\ntasks: [{<<: [{id: a}, {operator: empty}]}]\n"))
	// Crashers of issue 8 (more in testdata/fuzz/FuzzLoad): a stack
	// overflow in parseDuration, and a panic in the cron library. The
	// overflow needs megabytes, which would slow fuzzing to a crawl (every
	// mutation and minimisation of it parses them), so it is a seed only
	// when not fuzzing.
	if !fuzzing() {
		f.Add([]byte("dag_id: x\ndefault_args: {retry_delay: \"" + strings.Repeat("-", 4<<20) + "5s\"}\ntasks: [{id: a, operator: empty}]\n"))
	}
	f.Add([]byte("dag_id: x\nschedule: \"TZ=Europe/Paris\"\nstart_date: 2026-01-01\ntasks: [{id: a, operator: empty}]\n"))
	cronPanics := scheduleParserPanics()
	// The real template engine, so that the xcom_pull check is fuzzed too.
	opts := testOpts
	opts.CheckTemplate, opts.XComTaskIDs = template.Check, template.XComTaskIDs
	// An operator with field rules (ExactlyOne, Needs, Check) too.
	opts.Operators = maps.Clone(testOps)
	opts.Operators["py"] = rulesOps["py"]
	f.Add([]byte("dag_id: x\ntasks: [{id: a, operator: py, script: s, callable: m, args: [x], op_kwargs: {k: v}}, {id: b, operator: py}]\n"))
	// Task groups: nesting, prefixes, a group on a group, a cycle through one.
	f.Add([]byte("dag_id: x\ntasks: [{id: s, operator: empty, depends_on: [g]}]\ngroups:\n  - id: g\n    depends_on: h\n    prefix_group_id: false\n    tasks: [{id: a, operator: empty}, {id: b, operator: empty, depends_on: a}]\n    groups: [{id: i, default_args: {retries: 1}, tasks: [{id: c, operator: empty, depends_on: [b]}]}]\n  - id: h\n    tasks: [{id: a, operator: empty}]\n"))
	// Assets: outlets, inlets, and a nested asset schedule.
	f.Add([]byte("dag_id: x\nschedule: {assets: {all: [s3://a/b, {any: [\"file:///x?b=1&a=2\", x-y://Z]}]}}\ntasks: [{id: a, operator: empty, outlets: [s3://a/b/, {uri: s3://c, extra: {k: [1]}}], inlets: [s3://a]}]\n"))
	f.Add([]byte("dag_id: x\nschedule: &s [s3://a, {any: *s}]\ntasks: [{id: a, operator: empty}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data, opts)
		if (d == nil) == (err == nil) {
			t.Fatalf("Parse returned DAG %v and error %v", d, err)
		}
		if err != nil {
			checkFileErrors(t, err, cronPanics)
			return
		}
		if d.ID == "" || d.Schedule == nil || d.Timezone == nil || len(d.Tasks) == 0 || d.MaxActiveRuns < 1 {
			t.Fatalf("incomplete DAG %+v", d)
		}
		for _, tk := range d.Tasks {
			if d.Task(tk.ID) != tk || tk.Operator == "" || tk.Args == nil || tk.Env == nil || tk.PoolSlots < 1 {
				t.Fatalf("incomplete task %+v", tk)
			}
		}
		checkGroups(t, d)
		checkAssets(t, d)
		if _, err := d.ResolveParams(nil); err != nil && len(d.Params) == 0 {
			t.Fatalf("ResolveParams without params: %v", err)
		}
	})
}

// checkGroups checks that a loaded DAG's group tree and its tasks agree:
// every task's group exists and lists it, every listed task exists.
func checkGroups(t *testing.T, d *DAG) {
	t.Helper()
	for _, tk := range d.Tasks {
		if tk.Group == "" {
			continue
		}
		if g := d.Group(tk.Group); g == nil || !slices.Contains(g.TaskIDs, tk.ID) {
			t.Fatalf("task %s: group %q missing or not listing it", tk.ID, tk.Group)
		}
	}
	var walk func([]*TaskGroup)
	walk = func(gs []*TaskGroup) {
		for _, g := range gs {
			for _, id := range g.TaskIDs {
				if tk := d.Task(id); tk == nil || tk.Group != g.ID {
					t.Fatalf("group %s lists %s, which is not its task", g.ID, id)
				}
			}
			walk(g.Groups)
		}
	}
	walk(d.Groups)
}

// fuzzing reports whether this run is fuzzing (go test -fuzz) rather than
// running the seeds.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// scheduleParserPanics reports whether ParseSchedule itself still panics on
// the cron library's known crasher. While it does (replacing that library
// is another change of issue 8), FuzzLoad tolerates recovered panics at
// `schedule`; once it does not, they fail FuzzLoad like any other.
func scheduleParserPanics() (panicked bool) {
	defer func() { panicked = recover() != nil }()
	_, _ = ParseSchedule("TZ=Europe/Paris", time.UTC)
	return false
}

// checkFileErrors fails unless err joins only *FileError values, none of
// them a recovered panic (but at schedule when cronPanics), none longer
// than the bounds allow.
func checkFileErrors(t *testing.T, err error, cronPanics bool) {
	t.Helper()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error %T is not a join", err)
	}
	errs := joined.Unwrap()
	if len(errs) > maxFileErrors+1 {
		t.Fatalf("%d problems listed", len(errs))
	}
	for _, e := range errs {
		fe, ok := e.(*FileError) //nolint:errorlint // each joined error must be a *FileError itself
		if !ok {
			t.Fatalf("error %T (%v) is not a *FileError", e, e)
		}
		if strings.HasPrefix(fe.Msg, "internal error") && !(cronPanics && fe.Field == "schedule") {
			t.Fatalf("a parser panicked: %v", fe)
		}
		if len(fe.Msg) > maxMsgLen+len("…") || len(fe.Field) > maxFieldLen+len(".…")+maxQuoteLen+len("[]…")+20 {
			t.Fatalf("message of %d bytes, field of %d: %.300s", len(fe.Msg), len(fe.Field), fe)
		}
	}
}

// FuzzParseDuration: any string gets a duration or an error, in linear
// time; accepted durations are non-negative, survive a round trip through
// their Go spelling and agree with time.ParseDuration where both apply.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "1h30m", "1d", "1d12h", "90", "1.5", " 5m ", "-5s", "--5s", "+5", "0x10", "1e3", "2562047h47m16.854775807s"} {
		f.Add(s)
	}
	if !fuzzing() {
		f.Add(strings.Repeat("-", 4<<20) + "5s") // the stack overflow of issue 8
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			if len(err.Error()) > maxMsgLen { // what errAt would keep anyway
				t.Fatalf("error of %d bytes: %.300s", len(err.Error()), err)
			}
			if len(s) > maxDurationLen && err.Error() != "duration too long (max 64 bytes)" {
				t.Fatalf("%d bytes: %v", len(s), err)
			}
			return
		}
		if len(s) > maxDurationLen || d < 0 {
			t.Fatalf("parseDuration(%q) = %v", s, d)
		}
		if back, err := parseDuration(d.String()); err != nil || back != d {
			t.Fatalf("parseDuration(%q) = %v, but %q reads back as %v, %v", s, d, d.String(), back, err)
		}
		if s != "" && s == strings.TrimSpace(s) && s[0] != '+' && s[0] != '-' {
			if want, err := time.ParseDuration(s); err == nil && want != d {
				t.Fatalf("parseDuration(%q) = %v, time.ParseDuration says %v", s, d, want)
			}
		}
	})
}

// FuzzParseDate: any string gets a date or an error, in linear time;
// accepted dates are in the DAG's zone and survive a round trip through
// RFC 3339.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-01-01", "2026-01-01T06:00:00Z", "2026-01-01 06:00:00+05:30", "2026-03-29T02:30",
		"2026-10-25 02:30:00.123456789", "1900-01-01", "0000-01-01T00:00:00+01:00", "2026-13-01", " 2026-01-01 "} {
		f.Add(s)
	}
	if !fuzzing() {
		f.Add("2026-01-01" + strings.Repeat(" ", 1<<20) + "x")
	}
	paris, err := loadLocation("Europe/Paris")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseDate(s, paris)
		if err != nil {
			if len(err.Error()) > maxMsgLen { // what errAt would keep anyway
				t.Fatalf("error of %d bytes: %.300s", len(err.Error()), err)
			}
			if len(s) > maxDateLen && err.Error() != "date too long (max 64 bytes)" {
				t.Fatalf("%d bytes: %v", len(s), err)
			}
			return
		}
		if len(s) > maxDateLen || tm.Location() != paris {
			t.Fatalf("parseDate(%q) = %v", s, tm)
		}
		if y := tm.UTC().Year(); y < 0 || y > 9999 {
			return // RFC 3339 cannot spell it
		}
		text := tm.UTC().Format(time.RFC3339Nano)
		if back, err := parseDate(text, paris); err != nil || !back.Equal(tm) {
			t.Fatalf("parseDate(%q) = %v, but %q reads back as %v, %v", s, tm, text, back, err)
		}
	})
}

// FuzzCheckParams: any params spec and any trigger conf are accepted or
// refused with errors naming the param, never a panic; a resolved conf
// resolves again to itself, and changing it leaves the DAG's defaults alone.
func FuzzCheckParams(f *testing.F) {
	f.Add("{n: {type: integer, default: 8, enum: [4, 8]}, s: x}", `{"n": 4, "other": 1}`)
	f.Add("{o: {type: object, default: {a: [1, 2]}}, l: {type: array}}", `{"l": [1, {"b": 2}]}`)
	f.Add("{f: {type: number, default: .nan}, b: {type: boolean, enum: [true]}}", `{"b": false}`)
	f.Add("{i: {type: integer}}", `{"i": 1e300}`)
	f.Add("&a {p: *a}", `{}`)
	f.Fuzz(func(t *testing.T, spec, conf string) {
		l := &loader{file: "fuzz.yaml", opts: testOpts, budget: 100_000 + 8*len(spec), hintsLeft: hintBudget}
		root := l.parseYAML([]byte(spec))
		if root == nil {
			return // not YAML, or empty: nothing of params' own
		}
		params := l.params(root)
		for _, fe := range l.errs {
			if fe.Field != "params" && !strings.HasPrefix(fe.Field, "params.") && fe.Line > 0 { // Line 0: the alias budget
				t.Fatalf("problem not naming a param: %v", fe)
			}
		}
		if len(l.errs) > 0 {
			return
		}
		dec := json.NewDecoder(strings.NewReader(conf))
		dec.UseNumber()
		var c map[string]any
		if dec.Decode(&c) != nil {
			return
		}
		d := &DAG{Params: params}
		before := fmt.Sprint(params)
		got, err := d.ResolveParams(c)
		if err != nil {
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) {
				t.Fatalf("error %T is not a join", err)
			}
			for _, e := range joined.Unwrap() {
				if !strings.HasPrefix(e.Error(), "param \"") {
					t.Fatalf("error not naming its param: %v", e)
				}
			}
			return
		}
		again, err := d.ResolveParams(got)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("resolved %v, resolving that gives %v, %v", got, again, err)
		}
		for _, v := range got {
			scribble(v)
		}
		if after := fmt.Sprint(params); after != before {
			t.Fatalf("resolving let the caller change the defaults: %s became %s", before, after)
		}
	})
}

// scribble overwrites what lists and maps hold.
func scribble(v any) {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = "scribbled"
		}
	case map[string]any:
		for k := range x {
			x[k] = "scribbled"
		}
	}
}
