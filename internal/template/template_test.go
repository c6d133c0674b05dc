package template

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/sirupsen/logrus"
)

var errNotFound = errors.New("not found")

// testInfo is a task try with every field set, so tests can check each name.
func testInfo() Info {
	return Info{
		DagID:             "etl",
		RunID:             "scheduled__2026-01-01T00:00:00+00:00",
		TaskID:            "load",
		Operator:          "bash",
		LogicalDate:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		DataIntervalStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		DataIntervalEnd:   time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		TryNumber:         2,
		Params:            map[string]any{"input": "s3://bucket/in", "n": 5.0, "tags": []any{"a", "b"}},
		Conf:              map[string]any{"who": "it's me", "limit": 10.0},
		Variables: func(key string) (string, error) {
			switch key {
			case "env":
				return "prod", nil
			case "cfg":
				return `{"retries": 3, "hosts": ["a", "b"], "ratio": 0.5}`, nil
			case "broken_json":
				return `{`, nil
			}
			return "", fmt.Errorf("variable %q: %w", key, errNotFound)
		},
		XComPull: func(taskID, key string) (any, error) {
			switch {
			case taskID == "extract" && key == "return_value":
				return map[string]any{"rows": 42.0, "file": "/tmp/x.csv"}, nil
			case taskID == "extract" && key == "path":
				return "/data/out", nil
			case taskID == "count":
				return 7.0, nil
			case taskID == "fail":
				return nil, errors.New("store unavailable")
			}
			return nil, nil
		},
	}
}

func TestRenderContext(t *testing.T) {
	ctx := NewContext(testInfo())
	tests := []struct {
		name, src, want string
	}{
		{"ds", "{{ ds }}", "2026-01-01"},
		{"ds_nodash", "{{ ds_nodash }}", "20260101"},
		{"ts", "{{ ts }}", "2026-01-01T00:00:00+00:00"},
		{"ts_nodash", "{{ ts_nodash }}", "20260101T000000"},
		{"ts_nodash_with_tz", "{{ ts_nodash_with_tz }}", "20260101T000000+0000"},
		{"logical_date", "{{ logical_date }}", "2026-01-01T00:00:00+00:00"},
		{"logical_date strftime", "{{ logical_date.strftime('%Y') }}", "2026"},
		{"logical_date isoformat", "{{ logical_date.isoformat() }}", "2026-01-01T00:00:00+00:00"},
		{"logical_date year", "{{ logical_date.year + 1 }}", "2027"},
		{"data_interval_start", "{{ data_interval_start }}", "2026-01-01T00:00:00+00:00"},
		{"data_interval_end", "{{ data_interval_end }}", "2026-01-02T00:00:00+00:00"},
		{"data_interval_end strftime", "{{ data_interval_end.strftime('%d/%m/%Y %H:%M') }}", "02/01/2026 00:00"},
		{"interval add", "{{ data_interval_end.add(days=1, hours=2) }}", "2026-01-03T02:00:00+00:00"},
		{"interval subtract", "{{ data_interval_start.subtract(months=1).date() }}", "2025-12-01"},
		{"run_id", "{{ run_id }}", "scheduled__2026-01-01T00:00:00+00:00"},
		{"task_instance_key_str", "{{ task_instance_key_str }}", "etl__load__20260101"},
		{"dag", "{{ dag.dag_id }}", "etl"},
		{"dag item", "{{ dag['dag_id'] }}", "etl"},
		{"dag repr", "{{ dag }}", "<DAG: etl>"},
		{"task", "{{ task.task_id }} {{ task.operator }} {{ task.dag_id }}", "load bash etl"},
		{"ti", "{{ ti.task_id }} {{ ti.dag_id }} {{ ti.run_id }} {{ ti.try_number }}",
			"load etl scheduled__2026-01-01T00:00:00+00:00 2"},
		{"task_instance", "{{ task_instance.try_number }}", "2"},
		{"try_number arithmetic", "{{ ti.try_number * 10 }}", "20"},
		{"params attribute", "{{ params.input }}", "s3://bucket/in"},
		{"params item", "{{ params['input'] }}", "s3://bucket/in"},
		{"params integral float renders as int", "{{ params.n }}", "5"},
		{"params list", "{{ params.tags | join(',') }}", "a,b"},
		{"params get default", "{{ params.get('missing', 'dflt') }}", "dflt"},
		{"dag_run conf", "{{ dag_run.conf.who }} {{ dag_run.conf['limit'] }}", "it's me 10"},
		{"dag_run run_id", "{{ dag_run.run_id }}", "scheduled__2026-01-01T00:00:00+00:00"},
		{"dag_run logical_date", "{{ dag_run.logical_date.strftime('%Y%m%d') }}", "20260101"},
		{"var.value", "{{ var.value.env }}", "prod"},
		{"var.value item", "{{ var.value['env'] }}", "prod"},
		{"var.value get", "{{ var.value.get('env', 'x') }}", "prod"},
		{"var.value get default", "{{ var.value.get('nope', 'x') }}", "x"},
		{"var.value default filter", "{{ var.value.nope | default('d') }}", "d"},
		{"var.value is defined", "{{ var.value.nope is defined }} {{ var.value.env is defined }}", "False True"},
		{"var.json", "{{ var.json.cfg.retries + 1 }} {{ var.json.cfg.hosts[1] }} {{ var.json.cfg.ratio }}", "4 b 0.5"},
		{"xcom_pull positional", "{{ ti.xcom_pull('extract')['file'] }}", "/tmp/x.csv"},
		{"xcom_pull kwargs", "{{ ti.xcom_pull(task_ids='extract', key='path') }}", "/data/out"},
		{"xcom_pull default key", "{{ ti.xcom_pull(task_ids='extract', key='return_value').rows }}", "42"},
		{"xcom_pull int", "{{ ti.xcom_pull('count') + 1 }}", "8"},
		{"xcom_pull list", "{{ ti.xcom_pull(task_ids=['count', 'extract'], key='path') | length }}", "2"},
		{"xcom_pull absent", "{{ ti.xcom_pull('nobody') is none }}", "True"},
		{"xcom_pull absent default", "{{ ti.xcom_pull('nobody', default='none yet') }}", "none yet"},
		{"xcom_pull own dag_id", "{{ ti.xcom_pull('count', dag_id='etl') }}", "7"},
		{"macros.ds_add", "{{ macros.ds_add(ds, 5) }}", "2026-01-06"},
		{"macros.ds_add negative", "{{ macros.ds_add('2026-03-01', -1) }}", "2026-02-28"},
		{"macros.ds_format", "{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "01/01/2026"},
		{"shquote", "echo {{ dag_run.conf.who | shquote }}", `echo 'it'"'"'s me'`},
		{"shquote empty", "x{{ '' | shquote }}", "x''"},
		{"no autoescape", "{{ '<a href=\"x\">&</a>' }}", `<a href="x">&</a>`},
		{"trailing newline kept", "echo {{ ds }}\n", "echo 2026-01-01\n"},
		{"for loop", "{% for t in params.tags %}{{ loop.index }}{{ t }} {% endfor %}", "1a 2b "},
		{"if", "{% if ti.try_number > 1 %}retry{% else %}first{% endif %}", "retry"},
		{"set", "{% set d = macros.ds_add(ds, 1) %}{{ d }}", "2026-01-02"},
		{"macro", "{% macro q(s) %}[{{ s }}]{% endmacro %}{{ q(ds) }}", "[2026-01-01]"},
		{"range", "{% for i in range(3) %}{{ i }}{% endfor %}|{{ range(5, 0, -2) | join(',') }}", "012|5,3,1"},
		{"comment", "a{# hidden #}b", "ab"},
		{"no template", "plain text", "plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.src, ctx)
			if err != nil {
				t.Fatalf("Render(%q): %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	ctx := NewContext(testInfo())
	tests := []struct {
		name, src string
		line      int
		// want are substrings the message must contain.
		want []string
	}{
		{"undefined name", "{{ nope }}", 1, []string{`"nope" is undefined`}},
		{"undefined on later line", "echo a\necho {{ ds }}\necho {{ dss }}", 3, []string{`"dss" is undefined`}},
		{"undefined in if", "{% if nope %}x{% endif %}", 1, []string{`"nope" is undefined`}},
		{"undefined in loop body", "a\n{% for t in params.tags %}\n{{ t.missing }}\n{% endfor %}", 3, []string{"missing"}},
		{"undefined param", "{{ params.inptu }}", 1, []string{"params.inptu", "inptu"}},
		{"undefined attribute of object", "{{ ti.nope }}", 1, []string{"nope"}},
		{"missing variable names key", "x\n{{ var.value.missing_key }}", 2, []string{"missing_key", "not found"}},
		{"missing variable by item", "{{ var.value['missing_key'] }}", 1, []string{"missing_key"}},
		{"missing json variable", "{{ var.json.missing_key }}", 1, []string{"missing_key"}},
		{"broken json variable", "{{ var.json.broken_json }}", 1, []string{"broken_json", "JSON"}},
		{"xcom error", "{{ ti.xcom_pull('fail') }}", 1, []string{"store unavailable", `"fail"`}},
		{"xcom without task_ids", "{{ ti.xcom_pull() }}", 1, []string{"task_ids is required"}},
		{"xcom bad kwarg", "{{ ti.xcom_pull('a', include_prior_dates=True) }}", 1, []string{"include_prior_dates"}},
		{"xcom other dag", "{{ ti.xcom_pull('a', dag_id='other') }}", 1, []string{"other"}},
		{"ds_add bad date", "{{ macros.ds_add('01/01/2026', 1) }}", 1, []string{"macros.ds_add", "01/01/2026"}},
		{"ds_add bad days", "{{ macros.ds_add(ds, 'x') }}", 1, []string{"days must be an integer"}},
		{"ds_format mismatch", "{{ macros.ds_format(ds, '%d/%m/%Y', '%Y') }}", 1, []string{"macros.ds_format", "does not match"}},
		{"strftime without format", "{{ logical_date.strftime() }}", 1, []string{"format must be a string"}},
		{"unknown filter", "{{ ds | nosuchfilter }}", 1, []string{"filter 'nosuchfilter' not found"}},
		{"shquote with arguments", "{{ ds | shquote(1) }}", 1, []string{"filter shquote: takes no arguments"}},
		{"range too large", "{% for i in range(1000000000) %}{% endfor %}", 1, []string{"limit"}},
		{"include disabled", "{% include '/etc/passwd' %}", 1, []string{"not supported"}},
		{"recursive macro", "{% macro f(n) %}{{ f(n) }}{% endmacro %}\n{{ f(1) }}", 0, []string{"f: macro calls nested deeper than 100"}},
		{"range of a float", "{{ range(1.5) }}", 1, []string{"range: expected", "integers"}},
		{"range too large by power", "{{ range(10**9) }}", 1, []string{"range: 1000000000 items is more than the limit"}},
		{"range zero step", "{{ range(1, 2, 0) }}", 1, []string{"range: step must not be zero"}},
		{"failing filter", "{{ ds | truncate('x') }}", 1, []string{"filter truncate: expected length"}},
		{"undefined through filter", "{{ nope | upper }}", 1, []string{`filter upper: "nope" is undefined`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.src, ctx)
			if err == nil {
				t.Fatalf("Render(%q) = %q, want an error", tt.src, got)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Render(%q) error %v is %T, want *Error", tt.src, err, err)
			}
			if tt.line > 0 && te.Line != tt.line {
				t.Errorf("Render(%q) error %q: line = %d, want %d", tt.src, err, te.Line, tt.line)
			}
			if tt.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
				t.Errorf("Render(%q) error %q does not start with the line", tt.src, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Render(%q) error %q does not contain %q", tt.src, err, w)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, src string
		line      int // 0 means valid
		want      string
	}{
		{"plain", "echo hello", 0, ""},
		{"valid expression", "echo {{ ds }} {{ params.x | default('y') }}", 0, ""},
		{"valid blocks", "{% for x in y %}{% if x %}{{ x }}{% endif %}{% endfor %}", 0, ""},
		{"undefined names are not syntax errors", "{{ whatever.you.like }}", 0, ""},
		{"unclosed expression", "echo\n{{ ds", 2, "'}}' expected"},
		{"empty expression", "a\nb\n{{ }}", 3, "expected"},
		{"bad call", "a\nb {{ f( }}", 2, ""},
		{"if without condition", "line1\n{% if %}\n{% endif %}", 2, `"if"`},
		{"unclosed for", "{% for x in y %}\n{{ x }}", 2, "endfor"},
		{"unknown tag", "x\n{% frobnicate %}", 2, "frobnicate"},
		{"unterminated string", "a\n{{ 'abc }}", 2, "unterminated string"},
		{"unclosed comment", "a\nb {# note", 2, "unclosed comment"},
		{"extends disabled", "{% extends 'base.html' %}", 1, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.src)
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.src, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%q) = nil, want an error at line %d", tt.src, tt.line)
			}
			var te *Error
			if !errors.As(err, &te) || te.Line != tt.line {
				t.Errorf("Check(%q) = %q, want it at line %d", tt.src, err, tt.line)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
				t.Errorf("Check(%q) = %q, want it to start with the line", tt.src, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check(%q) = %q, want it to contain %q", tt.src, err, tt.want)
			}
			// Render must fail the same way, from the cache or not.
			if _, rerr := Render(tt.src, nil); rerr == nil || rerr.Error() != err.Error() {
				t.Errorf("Render(%q) error = %v, want %v", tt.src, rerr, err)
			}
		})
	}
}

func TestRenderValue(t *testing.T) {
	ctx := NewContext(testInfo())
	tests := []struct {
		name    string
		in      any
		want    any
		changed bool // whether a new value is expected rather than in itself
	}{
		{"string", "run {{ ds }}", "run 2026-01-01", true},
		{"plain string", "no template here", "no template here", false},
		{"comment only is not a template", "a {# c #}", "a {# c #}", false},
		{"int", 42, 42, false},
		{"nil", nil, nil, false},
		{"bool", true, true, false},
		{"string slice", []string{"a", "{{ ds_nodash }}", "c"}, []string{"a", "20260101", "c"}, true},
		{"plain string slice", []string{"a", "b"}, []string{"a", "b"}, false},
		{"any slice", []any{1, "{{ ti.try_number }}", nil}, []any{1, "2", nil}, true},
		{"string map", map[string]string{"A": "{{ params.input }}", "B": "b"},
			map[string]string{"A": "s3://bucket/in", "B": "b"}, true},
		{"any map keys are not rendered", map[string]any{"{{ ds }}": "{{ ds }}", "n": 3},
			map[string]any{"{{ ds }}": "2026-01-01", "n": 3}, true},
		{"nested", map[string]any{"cmd": []any{"echo", "{{ ds }}", map[string]any{"x": "{{ run_id }}", "y": "y"}}},
			map[string]any{"cmd": []any{"echo", "2026-01-01", map[string]any{"x": "scheduled__2026-01-01T00:00:00+00:00", "y": "y"}}}, true},
		{"nested without templates", map[string]any{"cmd": []any{"echo", map[string]string{"x": "y"}}},
			map[string]any{"cmd": []any{"echo", map[string]string{"x": "y"}}}, false},
		{"other types unchanged", []int{1, 2}, []int{1, 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderValue(tt.in, ctx)
			if err != nil {
				t.Fatalf("RenderValue: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RenderValue(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
			if !tt.changed && !sameContainer(got, tt.in) {
				t.Errorf("RenderValue(%#v) copied a value that had nothing to render", tt.in)
			}
		})
	}
}

// sameContainer reports whether a and b are the same map or slice (not just
// equal), or equal scalars.
func sameContainer(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() != vb.Kind() {
		return false
	}
	switch va.Kind() {
	case reflect.Map, reflect.Slice:
		return va.Pointer() == vb.Pointer()
	}
	return reflect.DeepEqual(a, b)
}

func TestRenderValueDoesNotModifyInput(t *testing.T) {
	ctx := NewContext(testInfo())
	in := map[string]any{"a": "{{ ds }}", "l": []any{"{{ ds }}"}, "s": []string{"{{ ds }}"}}
	if _, err := RenderValue(in, ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "{{ ds }}", "l": []any{"{{ ds }}"}, "s": []string{"{{ ds }}"}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("input modified: %#v", in)
	}
}

func TestRenderValueErrorPath(t *testing.T) {
	ctx := NewContext(testInfo())
	tests := []struct {
		in   any
		want string
	}{
		{"{{ nope }}", `line 1: "nope" is undefined`},
		{[]string{"ok", "{{ nope }}"}, `[1]: line 1: "nope" is undefined`},
		{map[string]any{"env": []any{"x", map[string]string{"K": "a\n{{ nope }}"}}}, `["env"][1]["K"]: line 2: "nope" is undefined`},
	}
	for _, tt := range tests {
		_, err := RenderValue(tt.in, ctx)
		if err == nil || err.Error() != tt.want {
			t.Errorf("RenderValue(%#v) error = %v, want %q", tt.in, err, tt.want)
		}
		var te *Error
		if !errors.As(err, &te) {
			t.Errorf("RenderValue(%#v) error %v does not wrap *Error", tt.in, err)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "'abc'"},
		{"it's", `'it'"'"'s'`},
		{"a b; rm -rf /", "'a b; rm -rf /'"},
		{"$HOME `id` \"x\" \\n", "'$HOME `id` \"x\" \\n'"},
		{"''", `''"'"''"'"''`},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenderConcurrent(t *testing.T) {
	ctx := NewContext(testInfo())
	const src = "{% for t in params.tags %}{{ t }}-{{ ds }}-{{ var.value.env }}{% endfor %}" +
		"{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(ti.xcom_pull('count')) }}"
	const want = "a-2026-01-01-prodb-2026-01-01-prod<7>"
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				got, err := Render(src, ctx)
				if err != nil {
					errs <- err
					return
				}
				if got != want {
					errs <- fmt.Errorf("Render = %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRenderIsolatesContext(t *testing.T) {
	ctx := NewContext(testInfo())
	if _, err := Render("{% set ds = 'changed' %}{{ ds }}", ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := Render("{{ ds }}", ctx); err != nil || got != "2026-01-01" {
		t.Errorf("after a render that set ds, Render = %q, %v; want the original ds", got, err)
	}
}

func TestCacheReusesCompiledTemplate(t *testing.T) {
	src := "cache test {{ ds }} " + t.Name()
	a, err := compile(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := compile(src)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("compile parsed the same source twice")
	}
}

func TestCacheIsBounded(t *testing.T) {
	for i := range maxCached + 100 {
		if err := Check(fmt.Sprintf("bounded {{ x%d }}", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.n.Load(); n > maxCached {
		t.Errorf("cache holds %d entries, want at most %d", n, maxCached)
	}
	count := 0
	cache.m.Range(func(any, any) bool { count++; return true })
	if int64(count) != cache.n.Load() {
		t.Errorf("cache counter = %d, but it holds %d entries", cache.n.Load(), count)
	}
}

func TestNoLogging(t *testing.T) {
	var buf bytes.Buffer
	logrus.SetOutput(&buf)
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })
	// Each of these reaches a gonja code path that logs when logging is on.
	for _, src := range []string{"{{ [1] * 2 }}", "{{ -ti }}", "{{ dag | length }}", "{% if dag %}{% endif %}"} {
		_, _ = Render(src, NewContext(testInfo()))
	}
	if buf.Len() > 0 {
		t.Errorf("gonja logged: %s", buf.String())
	}
}

func TestNilContext(t *testing.T) {
	if got, err := Render("{{ 1 + 1 }}", nil); err != nil || got != "2" {
		t.Errorf("Render with nil context = %q, %v", got, err)
	}
	if _, err := Render("{{ ds }}", nil); err == nil {
		t.Error("Render of ds with nil context succeeded, want undefined error")
	}
}

func TestRange(t *testing.T) {
	tests := []struct {
		args    []any
		want    []int
		wantErr string
	}{
		{[]any{3}, []int{0, 1, 2}, ""},
		{[]any{0}, []int{}, ""},
		{[]any{-3}, []int{}, ""},
		{[]any{2, 5}, []int{2, 3, 4}, ""},
		{[]any{5, 2}, []int{}, ""},
		{[]any{0, 10, 4}, []int{0, 4, 8}, ""},
		{[]any{5, 0, -2}, []int{5, 3, 1}, ""},
		{[]any{3.0}, []int{0, 1, 2}, ""},
		{[]any{math.MaxInt - 2, math.MaxInt, 1}, []int{math.MaxInt - 2, math.MaxInt - 1}, ""},
		{[]any{math.MinInt + 1, math.MinInt, math.MinInt}, []int{math.MinInt + 1}, ""},
		{[]any{math.MinInt, math.MaxInt}, nil, "more than the limit"},
		{[]any{math.MaxInt, math.MinInt, -1}, nil, "more than the limit"},
		{[]any{maxRange}, nil, ""},
		{[]any{maxRange + 1}, nil, "more than the limit"},
		{[]any{1, 2, 0}, nil, "step must not be zero"},
		{[]any{}, nil, "expected range"},
		{[]any{1, 2, 3, 4}, nil, "expected range"},
		{[]any{"3"}, nil, "integers"},
		{[]any{1.5}, nil, "integers"},
	}
	for _, tt := range tests {
		va := exec.NewVarArgs()
		for _, a := range tt.args {
			va.Args = append(va.Args, exec.AsValue(a))
		}
		got, err := rangeFunc(va, maxRange)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("range%v error = %v, want one containing %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("range%v: %v", tt.args, err)
			continue
		}
		if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("range%v = %v, want %v", tt.args, got, tt.want)
		}
	}
}
