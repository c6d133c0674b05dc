package template

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRender checks that no template, however malformed, makes the renderer
// panic, and that the fast path and the checker agree with the renderer.
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
	ctx := NewContext(testInfo())
	f.Fuzz(func(t *testing.T, src string) {
		out, err := Render(src, ctx)
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
		v, verr := RenderValue(src, ctx)
		if !isTemplate(src) {
			if verr != nil || v != src {
				t.Fatalf("RenderValue(%q) = %v, %v; want it unchanged", src, v, verr)
			}
		} else if (verr == nil) != (err == nil) || (err == nil && v != out) {
			t.Fatalf("RenderValue(%q) = %v, %v; Render = %q, %v", src, v, verr, out, err)
		}
	})
}
