package dag

import (
	"strings"
	"testing"
	"time"
)

// TestCallbacksLoad reads every callback key, default_args inheritance and
// a deadline.
func TestCallbacksLoad(t *testing.T) {
	src := `
dag_id: cb
on_failure_callback: {command: "echo {{ reason }}"}
on_success_callback:
  - {webhook: {http_conn_id: hook, body: '{"text": "{{ dag_run.run_id }}"}', headers: {X-A: b}}}
deadline: {reference: queued_at, interval: 90s, callback: {command: "echo late"}}
default_args:
  on_retry_callback: {command: "echo retry"}
  deadline: {interval: 10m, callback: {command: "echo slow"}}
tasks:
  - id: a
    operator: bash
    command: "false"
    on_failure_callback:
      - {email: {smtp_conn_id: mail, to: a@b.c, subject: "x {{ ds }}", body: "y"}}
      - {command: "echo 2"}
    on_execute_callback: {webhook: {url: "http://127.0.0.1:9/{{ ds }}"}}
  - {id: b, operator: bash, command: "true", on_retry_callback: []}
`
	d, err := Parse("cb.yaml", []byte(src), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Callbacks.OnFailure; len(got) != 1 || got[0].Command != "echo {{ reason }}" {
		t.Errorf("dag on_failure_callback = %+v", got)
	}
	if got := d.Callbacks.OnSuccess; len(got) != 1 || got[0].Webhook.HTTPConnID != "hook" || got[0].Webhook.Headers["X-A"] != "b" {
		t.Errorf("dag on_success_callback = %+v", got)
	}
	if dl := d.Deadline; dl == nil || dl.Reference != "queued_at" || dl.Interval != 90*time.Second || dl.Callback[0].Command != "echo late" {
		t.Errorf("deadline = %+v", dl)
	}
	a := d.Task("a")
	if got := a.Callbacks.OnFailure; len(got) != 2 || got[0].Email.To[0] != "a@b.c" || got[0].Kind() != "email" || got[1].Kind() != "command" {
		t.Errorf("a's on_failure_callback = %+v", got)
	}
	if got := a.Callbacks.OnRetry; len(got) != 1 || got[0].Command != "echo retry" {
		t.Errorf("a did not inherit on_retry_callback: %+v", got)
	}
	if got := a.Callbacks.For(EventExecute); len(got) != 1 || got[0].Webhook.URL == "" {
		t.Errorf("a's on_execute_callback = %+v", got)
	}
	if dl := a.Deadline; dl == nil || dl.Reference != "task_start" || dl.Interval != 10*time.Minute || dl.Callback[0].Command != "echo slow" {
		t.Errorf("a's inherited deadline = %+v", dl)
	}
	if d.Task("b").Callbacks.Any() {
		t.Errorf("b's empty on_retry_callback kept the inherited one: %+v", d.Task("b").Callbacks)
	}
}

// TestCallbacksErrors: each bad entry is reported at its line and field,
// saying what was expected.
func TestCallbacksErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"two kinds", `{command: "true", webhook: {url: x}}`, `tasks[a].on_failure_callback: expected exactly one of "command", "webhook" or "email", got 2`},
		{"unknown kind", `{emial: {}}`, `unknown key "emial"`},
		{"url and conn", `{webhook: {http_conn_id: x, url: y}}`, `expected exactly one of "http_conn_id" or "url"`},
		{"neither url nor conn", `{webhook: {body: "{}"}}`, `expected exactly one of "http_conn_id" or "url"`},
		{"bad address", `{email: {smtp_conn_id: m, to: [nope]}}`, `on_failure_callback.email.to[0]: expected an e-mail address`},
		{"missing conn", `{email: {to: a@b.c}}`, `missing required key "smtp_conn_id"`},
		{"scalar", `"echo hi"`, `expected a notifier`},
		{"template", `{command: "echo {{ ds }"}`, `template syntax error`},
		{"empty command", `{command: ""}`, `must not be empty`},
		{"list item", `[{command: "true"}, 3]`, `on_failure_callback[1]: expected a notifier`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "dag_id: cb\ntasks:\n  - id: a\n    operator: bash\n    command: \"true\"\n    on_failure_callback: " + c.yaml + "\n"
			_, err := Parse("cb.yaml", []byte(src), testOpts)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "cb.yaml:6") {
				t.Errorf("error = %v, want %q at cb.yaml:6", err, c.want)
			}
		})
	}
	deadlines := []struct{ yaml, want string }{
		{`{interval: 1h}`, `deadline: missing required key "callback"`},
		{`{reference: logical_dat, interval: 1h, callback: {command: x}}`, `invalid reference "logical_dat" (did you mean "logical_date"?)`},
		{`{interval: 0s, callback: {command: x}}`, `deadline.interval: must be positive`},
		{`{interval: soon, callback: {command: x}}`, `deadline.interval`},
		{`{reference: task_start, interval: 1h, callback: {command: x}}`, `invalid reference "task_start"`},
	}
	for _, c := range deadlines {
		src := "dag_id: cb\ndeadline: " + c.yaml + "\ntasks: [{id: a, operator: bash, command: x}]\n"
		if _, err := Parse("cb.yaml", []byte(src), testOpts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want %q", c.yaml, err, c.want)
		}
	}
	src := "dag_id: cb\ntasks: [{id: a, operator: bash, command: x, deadline: {reference: queued_at, interval: 1h, callback: {command: x}}}]\n"
	if _, err := Parse("cb.yaml", []byte(src), testOpts); err == nil || !strings.Contains(err.Error(), `tasks[a].deadline.reference: invalid reference "queued_at"; valid: task_start`) {
		t.Errorf("task deadline with a run's reference: error = %v", err)
	}
}
