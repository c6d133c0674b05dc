// Package template renders the Jinja templates found in task fields, with the
// names Airflow puts in a task's template context (ds, ts, params, ti,
// var.value, macros, ...), so DAGs written for Airflow keep rendering the
// same commands under Sirocco.
//
// The engine is gonja v2, a Go implementation of Jinja2, configured the way a
// workflow orchestrator needs it rather than the way a web server does:
//
//   - Undefined is strict: {{ nope }} and {{ params.typo }} are render errors
//     naming the missing name, as with Airflow's StrictUndefined, so a typo
//     never silently becomes an empty shell argument. The default filter and
//     the "is defined" test still work on undefined values.
//   - None prints as Jinja2 prints it, "None" (also inside a list or dict,
//     through ~ and the string filter), and none is its lower-case
//     spelling: an XCom nobody pushed renders None, as in Airflow, not "".
//   - Autoescaping is off: templates produce shell commands, not HTML. Use
//     the shquote filter to pass untrusted text to a shell.
//   - A trailing newline is kept, so a templated field and an untemplated one
//     (which RenderValue returns untouched) end the same way. Airflow's Jinja
//     environment strips it; a shell does not care.
//   - Templates cannot load other templates: include, import, from and
//     extends fail, so a template cannot read files from the host.
//   - Macro recursion is bounded, and recursive for loops are refused,
//     since unbounded recursion would overflow the Go stack and kill the
//     whole process rather than fail one task.
//   - Every render is bounded (Limits): its output, the strings, lists and
//     dicts it builds, and its steps; and it stops when its context ends,
//     so a try's templates keep to its execution_timeout and stop when it
//     is killed. guard.go explains how, gonja having no hooks for it.
//   - Panics inside gonja fail the render with an error.
//   - gonja's logrus logging stays disabled.
//
// logical_date, data_interval_start and data_interval_end are objects, not
// strings: they render as Python's isoformat (2026-01-01T00:00:00+00:00) and
// offer the datetime/pendulum methods DAGs use, such as strftime, isoformat,
// add, subtract, in_timezone and the year/month/day/... fields.
//
// Parsed templates are cached by source text, because the same task template
// is rendered for every run, and RenderValue skips the engine entirely for
// strings that contain no "{{" or "{%".
package template
