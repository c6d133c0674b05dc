package template

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzLimits are small, so that a template the limits do not bound shows
// as a render that outlives fuzzDeadline (or a worker out of memory)
// rather than as a slow fuzzer.
var fuzzLimits = Limits{MaxOutput: 4096, MaxValue: 4096, MaxItems: 1000, MaxSteps: 20_000}

// fuzzDeadline is far more than any render within fuzzLimits takes.
const fuzzDeadline = 20 * time.Second

// blowUps are templates that used to take all the memory or CPU.
var blowUps = []string{
	"{{ ('x' * 2000000000) | length }}",
	"{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
	"{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
	"{% set a = range(1000) %}{% set b = [a, a, a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b, b, b] %}{{ [c, c, c, c, c, c, c, c] }}",
	"{{ range(100000) | join('x' * 100000) }} {{ 'x' | center(1000000000) }} {{ 'x'.center(1000000000) }}",
	"{{ [1] | batch(1000000000, 'x') | list }} {{ lipsum(1000000000) }} {{ ('%999999d' * 9) | format(1) }}",
	"{% macro m(*args) %}{{ m(args, args) }}{% endmacro %}{{ m(1) }}",
	"{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
	"{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
	"{% set a %}{% for i in range(100000) %}xxxxxxxxxxxxxxxx{% endfor %}{% endset %}",
}

// FuzzRender checks that no template, however malformed, makes the renderer
// panic or escape its limits, and that the fast path and the checker agree
// with the renderer.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		"",
		"plain",
		"{{ ds }}",
		"{{ nope }}",
		"{{",
		"}}",
		"{%",
		"{% if %}",
		"{% for x in params.tags %}{{ loop.index }}{{ x }}{% endfor %}",
		"{{ ti.xcom_pull(task_ids=['extract', 'count'], key='path') }}",
		"{{ var.value.env }} {{ var.json.cfg.hosts[0] }} {{ var.value.nope | default('x') }}",
		"{{ macros.ds_add(ds, -3) }} {{ macros.ds_format(ds, '%Y-%m-%d', '%d %b %y %j %%') }}",
		"{{ (data_interval_end + macros.timedelta(hours=1.5) - logical_date).total_seconds() }} {{ macros.nope() }}",
		"{{ logical_date.strftime('%Y %Q %') }} {{ data_interval_end.add(days=1).date() }}",
		"{{ dag_run.conf.who | shquote }}",
		"{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
		"{% set a = [] %}{% do a.append(1) %}{{ a }}",
		"{{ range(3) | list }} {{ range(-5) }} {{ range(1, 10, 0) }}",
		"{{ 'abc }}",
		"{# unclosed",
		"{% raw %}{{ x }}",
		"{% include 'template' %}{% extends 'template' %}",
		"{{ params['input'][1:3] }} {{ params.tags[-1] }} {{ 10 // 0 }} {{ 1 % 0 }}",
		"{{ 'x' * -1 }} {{ -dag }} {{ [1] - 1 }}",
		"{% for k, v in dag_run.conf.items() %}{{ k }}={{ v }}\n{% endfor %}",
		"a\r\nb{{ ds }}\r",
	} {
		f.Add(seed)
	}
	for _, seed := range blowUps {
		f.Add(seed)
	}
	data := NewContext(testInfo())
	f.Fuzz(func(t *testing.T, src string) {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzDeadline)
		defer cancel()
		out, err := fuzzLimits.Render(ctx, src, data)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Render(%q) was still running after %s: its limits did not bound it", src, fuzzDeadline)
		}
		if len(out) > fuzzLimits.MaxOutput && strings.ContainsAny(src, "{\r") {
			t.Fatalf("Render(%q) returned %d bytes, over MaxOutput", src, len(out))
		}
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Render(%q) error %v is %T, want *Error", src, err, err)
			}
			if out != "" {
				t.Fatalf("Render(%q) failed but returned %q", src, out)
			}
		}
		if !strings.ContainsAny(src, "{\r") && (err != nil || out != src) {
			t.Fatalf("Render(%q) = %q, %v; want it unchanged", src, out, err)
		}
		if err == nil {
			if cerr := Check(src); cerr != nil {
				t.Fatalf("Render(%q) succeeded but Check says %v", src, cerr)
			}
		}
		v, verr := fuzzLimits.RenderValue(ctx, src, data)
		if !isTemplate(src) {
			if verr != nil || v != src {
				t.Fatalf("RenderValue(%q) = %v, %v; want it unchanged", src, v, verr)
			}
		} else if (verr == nil) != (err == nil) || (err == nil && v != out) {
			t.Fatalf("RenderValue(%q) = %v, %v; Render = %q, %v", src, v, verr, out, err)
		}
	})
}
