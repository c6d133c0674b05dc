package airflowimport

import (
	"encoding/json"
	"fmt"
	"strings"
)

// callbackEvents are Airflow's task callback keys, in output order.
var callbackEvents = []string{"on_execute_callback", "on_success_callback", "on_failure_callback", "on_retry_callback"}

// emailKeys are Airflow's BaseOperator e-mail arguments, which Sirocco
// writes as email notifiers of on_failure_callback and on_retry_callback.
var emailKeys = []string{"email", "email_on_failure", "email_on_retry"}

// rewriteCallback is the suggestion for a callback with no YAML form.
const rewriteCallback = "write a notifier instead: {command: ...} (a shell command, e.g. one running a script), " +
	"{webhook: {http_conn_id: ..., body: ...}} or {email: {smtp_conn_id: ..., to: [...]}} (see README, Callbacks and deadline alerts)"

// callbacks converts the callback and e-mail arguments a level (DAG
// default_args, a group's, a task) sets itself: inherited are the values
// of the levels above, own the level's. An event is written when the level
// sets its callback or an e-mail key that changes it; its list is what
// Airflow would call at that level (the inherited values merged with the
// level's), since a Sirocco key replaces the inherited one.
func (c *converter) callbacks(loc, task string, inherited, own map[string]any) omap {
	eff := merged(inherited, own)
	out := newMap()
	var emailed []string
	for _, key := range callbackEvents {
		event := strings.TrimSuffix(strings.TrimPrefix(key, "on_"), "_callback")
		_, sets := own[key]
		emailFlag := "email_on_" + event
		_, setsEmail := own["email"]
		_, setsFlag := own[emailFlag]
		byEmail := event == "failure" || event == "retry"
		if !sets && !(byEmail && (setsEmail || setsFlag)) {
			continue
		}
		list := c.notifiers(loc, task, key, eff[key])
		if byEmail {
			if n := emailNotifier(eff["email"], eff[emailFlag], event); n != nil {
				list = append(list, n)
				emailed = append(emailed, key)
			}
		}
		switch len(list) {
		case 0:
			if inheritsSome(inherited, key, event) {
				out.put(key, []any{}) // the level turns off what it would inherit
			}
		case 1:
			out.put(key, list[0])
		default:
			out.put(key, list)
		}
	}
	if len(emailed) > 0 {
		c.add(loc, task, fmt.Sprintf("email=%s: written as an email notifier of %s through the smtp connection smtp_default",
			truncate(describe(eff["email"]), 60), strings.Join(emailed, " and ")), "create that connection (its from_email extra is the sender)")
	}
	return out
}

// inheritsSome reports whether the inherited arguments give the event a
// notifier (a callback, or Airflow's e-mail).
func inheritsSome(inherited map[string]any, key, event string) bool {
	if !isDefault(inherited[key]) {
		return true
	}
	byEmail := event == "failure" || event == "retry"
	return byEmail && emailNotifier(inherited["email"], inherited["email_on_"+event], event) != nil
}

func merged(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// ownCallbackArgs picks the callback and e-mail arguments out of args.
func ownCallbackArgs(args map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range append(callbackEvents, emailKeys...) {
		if v, ok := args[k]; ok {
			out[k] = v
		}
	}
	return out
}

// isCallbackArg reports whether k is converted by callbacks.
func isCallbackArg(k string) bool {
	for _, e := range append(callbackEvents, emailKeys...) {
		if e == k {
			return true
		}
	}
	return false
}

// emailNotifier is Airflow's e-mail on failure or retry: sent when email
// lists addresses and email_on_<event> is not false (Airflow's default is
// true), through the smtp_default connection as Airflow's [smtp] section.
func emailNotifier(email, flag any, event string) any {
	if b, ok := flag.(bool); ok && !b {
		return nil
	}
	to := addresses(email)
	if len(to) == 0 {
		return nil
	}
	what := "failed"
	if event == "retry" {
		what = "is up for retry"
	}
	return map[string]any{"email": map[string]any{
		"smtp_conn_id": "smtp_default", "to": anySlice(to),
		"subject": "Airflow alert: {{ dag.dag_id }}.{{ ti.task_id }} " + what + " (try {{ try_number }})",
		"body":    "Run {{ run_id }}, task {{ ti.task_id }}: {{ reason }}\n\n{{ exception }}",
	}}
}

// addresses reads Airflow's email argument: a string (comma or semicolon
// separated) or a list of them.
func addresses(v any) []string {
	var raw []string
	switch x := v.(type) {
	case string:
		raw = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				raw = append(raw, s)
			}
		}
	}
	var out []string
	for _, s := range raw {
		for _, a := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// notifiers converts a callback value: a notifier, a function or a list
// of them; what has no YAML form is reported and left out.
func (c *converter) notifiers(loc, task, key string, v any) []any {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		items = x
	default:
		items = []any{v}
	}
	var out []any
	for _, it := range items {
		if n := c.notifier(loc, task, key, it); n != nil {
			out = append(out, n)
		}
	}
	return out
}

// notifier converts one notifier object; kwargs are a class's arguments
// given apart (AsyncCallback(SmtpNotifier, kwargs={...})).
func (c *converter) notifier(loc, task, key string, v any) any {
	class, kwargs := "", map[string]any{}
	switch kind(v) {
	case "object":
		class = str(field(v, "class"))
		kwargs, _ = field(v, "kwargs").(map[string]any)
		if args, _ := field(v, "args").([]any); len(args) > 0 {
			c.add(loc, task, fmt.Sprintf("%s: %s(...) with positional arguments is not converted", key, class),
				"give its arguments by name (to=..., text=...)")
			return nil
		}
	case "callable":
		name := str(field(v, "name"))
		if _, ok := notifierClasses[name]; !ok {
			c.add(loc, task, fmt.Sprintf("%s=%s is not converted: Sirocco does not run Python callbacks", key, describe(v)), rewriteCallback)
			return nil
		}
		class = name // a notifier class passed without its arguments
	default:
		c.add(loc, task, fmt.Sprintf("%s=%s is not converted", key, truncate(describe(v), 60)), rewriteCallback)
		return nil
	}
	conv, ok := notifierClasses[class]
	if !ok {
		c.add(loc, task, fmt.Sprintf("%s: the notifier %s is not converted", key, class), rewriteCallback)
		return nil
	}
	return conv(c, loc, task, key, kwargs)
}

// notifierClasses convert Airflow's notifiers Sirocco has a kind for.
var notifierClasses = map[string]func(c *converter, loc, task, key string, kw map[string]any) any{
	"SmtpNotifier":         smtpNotifier,
	"SlackWebhookNotifier": slackWebhookNotifier,
}

func smtpNotifier(c *converter, loc, task, key string, kw map[string]any) any {
	to := addresses(kw["to"])
	if len(to) == 0 {
		c.add(loc, task, key+": SmtpNotifier without a `to` address is not converted", "give to=[...]")
		return nil
	}
	conn := "smtp_default"
	if s := str(kw["smtp_conn_id"]); s != "" {
		conn = s
	}
	m := map[string]any{"smtp_conn_id": conn, "to": anySlice(to)}
	if s := str(kw["subject"]); s != "" {
		m["subject"] = deadlineTemplate(s)
	}
	if s := str(kw["html_content"]); s != "" {
		m["body"] = deadlineTemplate(s)
	}
	for _, k := range sortedKeys(kw) {
		switch k {
		case "to", "smtp_conn_id", "subject", "html_content":
		case "from_email":
			c.add(loc, task, key+": SmtpNotifier's from_email is not kept", "Sirocco sends from the smtp connection's from_email extra")
		default:
			if !isDefault(kw[k]) {
				c.add(loc, task, fmt.Sprintf("%s: SmtpNotifier's %s=%s is not kept", key, k, truncate(describe(kw[k]), 40)),
					"Sirocco's email notifier has to, subject and body")
			}
		}
	}
	return map[string]any{"email": m}
}

func slackWebhookNotifier(c *converter, loc, task, key string, kw map[string]any) any {
	conn := "slack_default"
	if s := str(kw["slack_webhook_conn_id"]); s != "" {
		conn = s
	}
	m := map[string]any{"http_conn_id": conn}
	if text, ok := kw["text"].(string); ok && text != "" {
		body, err := slackBody(deadlineTemplate(text))
		if err != nil {
			c.add(loc, task, key+": SlackWebhookNotifier's text: "+err.Error()+"; the default message is sent", "write the webhook's body by hand")
		} else {
			m["body"] = body
		}
	}
	c.add(loc, task, key+": SlackWebhookNotifier is written as a webhook POSTing {\"text\": ...} to the http connection "+conn,
		"make "+conn+" an http connection whose URL is the whole webhook URL")
	for _, k := range sortedKeys(kw) {
		if k != "text" && k != "slack_webhook_conn_id" && !isDefault(kw[k]) {
			c.add(loc, task, fmt.Sprintf("%s: SlackWebhookNotifier's %s=%s is not kept", key, k, truncate(describe(kw[k]), 40)),
				"write the webhook's body by hand (blocks, attachments ...)")
		}
	}
	return map[string]any{"webhook": m}
}

// deadlineTemplate rewrites Airflow's deadline context to Sirocco's: the
// deadline's time is `deadline` itself (RFC 3339).
func deadlineTemplate(s string) string {
	return strings.ReplaceAll(s, "deadline.deadline_time", "deadline")
}

// slackBody is the JSON body {"text": TEXT} for a Jinja template TEXT:
// literal text stays a JSON string, a text with {{ expressions }} becomes
// one expression joining its parts, encoded by tojson when rendered, so
// that what a template puts in cannot break the JSON.
func slackBody(text string) (string, error) {
	if !strings.Contains(text, "{{") && !strings.Contains(text, "{%") && !strings.Contains(text, "{#") {
		b, err := json.Marshal(map[string]string{"text": text})
		return string(b), err
	}
	if strings.Contains(text, "{%") || strings.Contains(text, "{#") {
		return "", fmt.Errorf("a template with {%% %%} blocks or {# #} comments is not converted")
	}
	parts := []string{`""`} // ~ makes a string of what it joins
	rest := text
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			parts = append(parts, jinjaString(rest))
			break
		}
		if i > 0 {
			parts = append(parts, jinjaString(rest[:i]))
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("an unclosed {{ in the template")
		}
		expr := strings.TrimSpace(rest[i+2 : i+j])
		if expr == "" || strings.Contains(expr, "{{") {
			return "", fmt.Errorf("an empty or nested {{ }} in the template")
		}
		parts = append(parts, "("+expr+")")
		rest = rest[i+j+2:]
	}
	return `{"text": {{ (` + strings.Join(parts, " ~ ") + `) | tojson }}}`, nil
}

// jinjaString quotes s as a Jinja string literal.
func jinjaString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
