package template

import (
	"context"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/nikolalohinski/gonja/v2/nodes"
)

// renderWithin renders src in a goroutine and fails the test if the render
// outlives ctx: a render that exceeds a limit must stop on its own, not
// when something gives up waiting for it.
func renderWithin(t *testing.T, ctx context.Context, lim Limits, src string, data Context) (string, error) {
	t.Helper()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := lim.Render(context.Background(), src, data)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		t.Fatalf("Render(%.60q) did not return", src)
		return "", nil
	}
}

// TestHugeRepetitionFailsFastInLittleMemory is issue 8's template: it used
// to allocate 2 GB per render and reach 8 GB.
func TestHugeRepetitionFailsFastInLittleMemory(t *testing.T) {
	// Not parallel: it measures the memory the process allocates.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := renderWithin(t, ctx, Limits{}, "{{ ('x' * 2000000000) | length }}", NewContext(testInfo()))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("error = %v, want one wrapping ErrLimit", err)
	}
	if want := "line 1: string repetition ('*') exceeded the limit of 1 MiB on a value"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("the render allocated %d bytes", got)
	}
}

// TestFormatStarWidthFailsInLittleMemory: Go's fmt takes a width from an
// argument ('%*d', up to 1e6 each); the format filter must count them
// before it runs, not refuse the 200 MB it built.
func TestFormatStarWidthFailsInLittleMemory(t *testing.T) {
	// Not parallel: it measures the memory the process allocates.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	src := "{{ ('%*d' * 200) | format(" + strings.Repeat("999999, 1, ", 200) + "1) | length }}"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := renderWithin(t, ctx, Limits{}, src, NewContext(testInfo()))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "filter format exceeded") {
		t.Fatalf("error = %v, want the format filter's limit", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("the render allocated %d bytes", got)
	}
}

func TestLimitsStopBlowUps(t *testing.T) {
	t.Parallel()
	small := Limits{MaxOutput: 1000, MaxValue: 1000, MaxItems: 100, MaxSteps: 10_000}
	tests := []struct {
		name, src string
		lim       Limits
		want      string
	}{
		{"repetition in set", "{% set a = 'x' * 2000000000 %}", Limits{}, "string repetition ('*') exceeded the limit of 1 MiB on a value"},
		{"repetition in with", "{% with a = 'ab' * 1000000000 %}{% endwith %}", Limits{}, "string repetition ('*')"},
		{"repetition in filter block", "{% filter upper %}{{ 'x' * 2000000000 }}{% endfilter %}", Limits{}, "string repetition ('*')"},
		{"repetition in macro default", "{% macro m(a='x' * 2000000000) %}{{ a }}{% endmacro %}{{ m() }}", Limits{}, "string repetition ('*')"},
		{"doubling with ~", "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", Limits{}, "string concatenation ('~') exceeded the limit of 1 MiB"},
		{"doubling with +", "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", Limits{}, "string concatenation ('+')"},
		{"doubling a list", "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", Limits{}, "list concatenation ('+') exceeded the limit of 100000 items on a list"},
		{"doubling a list's text", "{% set ns = namespace(l=['x' * 100000]) %}{% for i in range(64) %}{% set ns.l = [ns.l] + [ns.l] %}{% endfor %}", Limits{}, "list concatenation ('+') exceeded the limit of 1 MiB"},
		{"nested list literals", "{% set a = range(100000) %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c | length }}",
			Limits{}, "a list literal exceeded the limit of 1 MiB on a value"},
		{"nested dict literals", "{% set a = 'x' * 400000 %}{% set b = {'a': a, 'b': a, 'c': a} %}", Limits{}, "a dict literal exceeded"},
		{"nested tuples", "{% set a = 'x' * 600 %}{% set b = (a, a) %}", small, "a list literal exceeded the limit of 1000 bytes"},
		{"macro arguments", "{% macro m(*args) %}{{ m(args, args) }}{% endmacro %}{{ m(1) }}", small, "macro arguments exceeded"},
		{"printed list", "{{ range(60) }}", Limits{MaxValue: 100}, "a printed value exceeded the limit of 100 bytes"},
		{"center", "{{ 'x' | center(1000000000) }}", Limits{}, "filter center exceeded the limit of 1 MiB"},
		{"indent", "{{ ('\n' * 1000) | indent(10000) }}", Limits{}, "filter indent exceeded"},
		{"join", "{{ range(100000) | join('x' * 100000) }}", Limits{}, "filter join exceeded"},
		{"replace", "{{ ('x' * 1000) | replace('', 'y' * 10000) }}", Limits{}, "filter replace exceeded"},
		{"format", "{{ ('%s' * 1000) | format('x' * 10000) }}", Limits{}, "filter format exceeded"},
		{"format width", "{{ ('%999999d' * 10) | format(1) }}", Limits{}, "filter format exceeded"},
		{"wordwrap", "{{ ('x ' * 10000) | wordwrap(1, wrapstring='y' * 1000) }}", Limits{}, "filter wordwrap exceeded"},
		{"batch", "{{ [1] | batch(1000000000, 'x') | list }}", Limits{}, "filter batch exceeded the limit of 100000 items"},
		{"slice", "{{ [1] | slice(1000000000) | list }}", Limits{}, "filter slice exceeded"},
		{"tojson indent", "{{ range(1000) | list | tojson(indent=1000) }}", Limits{}, "filter tojson exceeded"},
		{"stringify a big list", "{{ range(1000) | list | string }}", Limits{MaxValue: 1000}, "filter list exceeded"},
		{"stringify a big list", "{{ range(1000) | string }}", Limits{MaxValue: 1000}, "filter string exceeded"},
		{"lipsum", "{{ lipsum(1000000000) }}", Limits{}, "lipsum() exceeded"},
		{"dict()", "{% set a = 'x' * 600 %}{{ dict(a=a, b=a) }}", small, "dict() exceeded"},
		{"str.center", "{{ 'x'.center(1000000000) }}", Limits{}, "str.center() exceeded the limit of 1 MiB"},
		{"str.join", "{% set s = 'x' * 100000 %}{{ s.join(range(100000)) }}", Limits{}, "str.join() exceeded"},
		{"str.replace", "{% set s = 'x' * 100000 %}{{ s.replace('x', 'y' * 1000) }}", Limits{}, "str.replace() exceeded"},
		{"str.format", "{% set s = '{}' * 10000 %}{{ s.format('x' * 10000) }}", Limits{}, "str.format() exceeded"},
		{"str.format width over 1e6", "{{ '{:>1000000000}'.format('a') }}", Limits{}, "str.format() exceeded"},
		{"str.format nested width", "{{ '{:>{}}'.format('a', 100000000) | length }}", Limits{}, "str.format() exceeded"},
		{"str.format nested width as text", "{{ '{0:>{1}{2}}'.format('a', '1', 100000000) | length }}", Limits{}, "str.format() exceeded"},
		{"list.append doubling", "{% set ns = namespace(a=['x' * 100000]) %}{% for i in range(64) %}{% set b = ns.a %}{% do b.append(b) %}{% set ns.a = b %}{% endfor %}",
			Limits{}, "list.append() exceeded"},
		{"range items", "{{ range(1000) }}", small, "1000 items is more than the limit of 100"},
		{"output", "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", Limits{}, "template exceeded 1 MiB of output"},
		{"output of text", "{% for i in range(5000) %}text{% endfor %}", Limits{MaxOutput: 1000}, "template exceeded 1000 bytes of output"},
		{"captured by a macro", "{% macro m() %}{% for i in range(10000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}{% endmacro %}{{ m() | length }}",
			Limits{MaxValue: 10_000}, "captured output exceeded the limit of 10000 bytes"},
		{"captured by a set block", "{% set a %}{% for i in range(10000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}{% endset %}", Limits{MaxValue: 10_000}, "captured output exceeded"},
		{"steps", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", Limits{MaxSteps: 10_000}, "template exceeded 10000 evaluation steps"},
		{"steps in a loop's if", "{% for i in range(100) %}{% for j in range(100) if j ~ i %}{% endfor %}{% endfor %}", small, "evaluation steps"},
		{"filters of a large string", "{% set s = 'a' * 1000000 %}{% for i in range(100000) %}{% set n = s | length %}{% endfor %}", Limits{}, "evaluation steps"},
		{"steps of macros", "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}", small, "evaluation steps"},
		{"limit hit under default()", "{{ ('x' * 2000000000) | default('y') }}", Limits{}, "string repetition ('*')"},
	}
	data := NewContext(testInfo())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := renderWithin(t, ctx, tt.lim, tt.src, data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render = %.80q, %v; want an error containing %q", out, err, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Errorf("error %v is %T, want *Error", err, err)
			}
		})
	}
}

func TestLimitErrorsWrapErrLimit(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"{{ 'x' * 2000 }}", "{% for i in range(10) %}{% endfor %}", "{{ 'x' }}{{ 'y' }}"} {
		_, err := Limits{MaxValue: 100, MaxSteps: 5, MaxOutput: 1}.Render(t.Context(), src, nil)
		if !errors.Is(err, ErrLimit) {
			t.Errorf("Render(%q) = %v, want an error wrapping ErrLimit", src, err)
		}
	}
}

// TestLimitsAllowWhatFits: exactly at each limit, the render succeeds.
func TestLimitsAllowWhatFits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		lim  Limits
		want string
	}{
		{"{{ 'x' * 10 }}", Limits{MaxValue: 10, MaxOutput: 10}, strings.Repeat("x", 10)},
		{"{{ 'ab' ~ 'cd' }}", Limits{MaxValue: 4}, "abcd"},
		{"{{ range(5) | list | length }}", Limits{MaxItems: 5}, "5"},
		{"{{ [1, 2] + [3] }}", Limits{MaxItems: 3}, "[1, 2, 3]"},
		{"{% for i in range(3) %}{{ i }}{% endfor %}", Limits{MaxSteps: 12}, "012"},
		{"{{ range(100000) | list | length }}", Limits{}, "100000"},
	}
	for _, tt := range tests {
		if got, err := tt.lim.Render(t.Context(), tt.src, nil); err != nil || got != tt.want {
			t.Errorf("Render(%q) within %+v = %q, %v; want %q", tt.src, tt.lim, got, err, tt.want)
		}
	}
}

// TestGuardedOperatorsKeepTheirMeaning: what the guarded operators and
// literals compute is what gonja computed before.
func TestGuardedOperatorsKeepTheirMeaning(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{"{{ 1 + 2 }} {{ 1.5 + 1 }} {{ 'a' + 'b' }} {{ 1 + 'a' }} {{ [1] + [2, 'x'] }}", "3 2.5 ab 1a [1, 2, 'x']"},
		{"{{ 2 * 3 }} {{ 'ab' * 3 }} {{ 2.5 * 2 }} {{ 'x' * 0 }}|{{ 'x' * -1 }}|{{ [1] * 3 }}", "6 ababab 5.0 ||0"},
		{"{{ 'a' ~ 1 ~ [2] }} {{ ds ~ '/' ~ ds_nodash }}", "a1[2] 2026-01-01/20260101"},
		{"{{ (1, 'b') }} {{ [] }} {{ {'a': 1, 'b': [2]} }} {{ {'k': 'v'}['k'] }} {{ {} }}", "[1, 'b'] [] {'a': 1, 'b': [2]} v {}"},
		{"{% set ns = namespace(n=1) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}", "2"},
		{"{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}", "3 7 "},
		{"{% with x = 2 * 3 %}{{ x }}{% endwith %} {% filter upper %}{{ 'a' ~ 'b' }}{% endfilter %}", "6 AB"},
		{"{% macro m(a, b=1 + 1) %}{{ a * b }}{% endmacro %}{{ m(3) }} {{ m('z', 3) }}", "6 zzz"},
		{"{% set s = 'a' ~ 'b' %}{{ s.upper() }} {{ [1, 2] | join('-' * 2) }}", "AB 1--2"},
		{"{% for i in range(3) if i * 2 > 1 %}{{ i }}{% else %}none{% endfor %}", "12"},
	}
	data := NewContext(testInfo())
	for _, tt := range tests {
		if got, err := Render(tt.src, data); err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
}

// TestGuardReachesEveryExpression parses a template with every control
// structure, each holding a guarded construct in each of its parts, and
// checks that no unguarded one is left: gonja keeps some of them in
// unexported fields, and a gonja upgrade may move them.
func TestGuardReachesEveryExpression(t *testing.T) {
	t.Parallel()
	src := `{{ 'a' ~ 'b' }}{{ 1 + 1 if 2 * 2 else [3] }}
{% if 1 + 1 %}{{ (1, 2) }}{% elif {'a': 1} %}x{% else %}{{ 'e' * 2 }}{% endif %}
{% for i in [1] + [2] if i * 1 %}{{ i ~ 'x' }}{% else %}{{ 'y' * 1 }}{% endfor %}
{% set a = 'x' * 2 %}{% set b = [1] if 1 + 1 else {'c': 2} %}{% set c %}{{ 'x' ~ 'y' }}{% endset %}
{% with d = 1 + 1, e = [1] %}{{ d * 2 }}{% endwith %}
{% filter replace('a' ~ 'b', 'c' * 2) %}{{ 1 + 1 }}{% endfilter %}
{% macro m(x=1 + 1, y=[1]) %}{{ x * 2 }}{{ caller() if caller is defined else '' }}{% endmacro %}
{% call m(1 + 1) %}{{ 'z' ~ 'z' }}{% endcall %}
{% do [1].append(1 + 1) %}{{ 'ab'.replace('a' ~ 'b', 'c' * 2, 1) }}{{ range(1 + 1) | map('string') | join('-' ~ '-') }}
{% autoescape true %}{{ 'a' ~ '<' }}{% endautoescape %}{% raw %}{{ 1 + 1 }}{% endraw %}`
	tpl, err := compile(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(src, nil); err != nil {
		t.Fatalf("Render: %v", err)
	}
	var left []nodes.Node
	g := &guarder{seen: map[unsafe.Pointer]bool{}, repl: map[nodes.Node]nodes.Node{}, unguarded: &left}
	g.walk(reflect.ValueOf(tpl.Root()))
	for _, n := range left {
		t.Errorf("unguarded after guardTree: %T %s", n, n)
	}
}

func TestRecursiveLoopsAreRefused(t *testing.T) {
	t.Parallel()
	err := Check("a\n{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}")
	var te *Error
	if !errors.As(err, &te) || te.Line != 2 || te.Msg != "recursive for loops are not supported" {
		t.Errorf("Check = %v, want line 2: recursive for loops are not supported", err)
	}
}

// TestRenderStopsWhenItsContextEnds: two nested loops over range(100000)
// with no step limit to stop them stop when the render's context is
// cancelled, from another goroutine, once the render has started.
func TestRenderStopsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	const src = "{{ started() }}{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"
	for _, name := range []string{"cancelled", "deadline"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			var once sync.Once
			data := Context{"started": func() string { once.Do(func() { close(started) }); return "" }}
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			stopped := errors.New("the try was killed")
			if name == "deadline" {
				var stop context.CancelFunc
				ctx, stop = context.WithTimeoutCause(ctx, 50*time.Millisecond, stopped)
				defer stop()
			}
			done := make(chan error, 1)
			go func() {
				_, err := Limits{MaxSteps: math.MaxInt, MaxOutput: math.MaxInt}.Render(ctx, src, data)
				done <- err
			}()
			<-started
			if name == "cancelled" {
				cancel(stopped)
			}
			select {
			case err := <-done:
				if !errors.Is(err, stopped) || !strings.Contains(err.Error(), "template rendering stopped: the try was killed") {
					t.Errorf("Render = %v, want it stopped with the context's cause", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the render went on after its context ended")
			}
		})
	}
}

func TestRenderOfAnEndedContextFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := DefaultLimits.Render(ctx, "{{ ds }}", NewContext(testInfo())); !errors.Is(err, context.Canceled) {
		t.Errorf("Render with a cancelled context = %v", err)
	}
	// No template, nothing to stop: the fast path does not look.
	if got, err := DefaultLimits.Render(ctx, "plain", nil); err != nil || got != "plain" {
		t.Errorf("Render of plain text = %q, %v", got, err)
	}
}

func TestRenderValueAppliesLimitsPerString(t *testing.T) {
	t.Parallel()
	v := map[string]any{"a": "{{ 'x' * 8 }}", "b": []any{"{{ 'y' * 8 }}", "{{ 'z' * 9 }}"}}
	_, err := Limits{MaxOutput: 8}.RenderValue(t.Context(), v, nil)
	if err == nil || err.Error() != `["b"][1]: line 1: template exceeded 8 bytes of output` {
		t.Errorf("RenderValue = %v", err)
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{1 << 20: "1 MiB", 3 << 20: "3 MiB", 64 << 10: "64 KiB", 1000: "1000 bytes", 1536 << 10: "1536 KiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
