package dag

import (
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Event names what a notifier is called for: Airflow's callbacks
// (on_<event>_callback) and a deadline alert that passed.
type Event string

// Callback events.
const (
	EventSuccess  Event = "success"
	EventFailure  Event = "failure"
	EventRetry    Event = "retry"
	EventExecute  Event = "execute"
	EventDeadline Event = "deadline"
)

// Notifier is one thing a callback does: exactly one of Command, Webhook
// and Email is set. Its strings are Jinja templates rendered when it is
// delivered, outside the task's try (Airflow 3's BaseNotifier).
type Notifier struct {
	Command string
	Webhook *Webhook
	Email   *Email
	Line    int
}

// Kind names the notifier's kind: command, webhook or email.
func (n Notifier) Kind() string {
	switch {
	case n.Webhook != nil:
		return "webhook"
	case n.Email != nil:
		return "email"
	}
	return "command"
}

// Webhook is a JSON POST (Slack-style): to the base URL of HTTPConnID (its
// token and headers applied) or to URL.
type Webhook struct {
	HTTPConnID string
	URL        string
	Body       string // template giving JSON
	Headers    map[string]string
}

// Email is a message sent through the SMTP connection SMTPConnID.
type Email struct {
	SMTPConnID    string
	To            []string
	Subject, Body string
}

// Callbacks are the notifiers of each event, nil when none.
type Callbacks struct {
	OnSuccess, OnFailure, OnRetry, OnExecute []Notifier
}

// For returns the notifiers of event e.
func (c Callbacks) For(e Event) []Notifier {
	switch e {
	case EventSuccess:
		return c.OnSuccess
	case EventFailure:
		return c.OnFailure
	case EventRetry:
		return c.OnRetry
	case EventExecute:
		return c.OnExecute
	}
	return nil
}

// Any reports whether any event has a notifier.
func (c Callbacks) Any() bool {
	return len(c.OnSuccess)+len(c.OnFailure)+len(c.OnRetry)+len(c.OnExecute) > 0
}

// Deadline is Airflow 3's DeadlineAlert: Callback is called once if the
// run is not finished Interval after its Reference time.
type Deadline struct {
	Reference string // logical_date | run_start | queued_at
	Interval  time.Duration
	Callback  []Notifier
}

// DeadlineReferences lists the accepted references of a DAG's deadline.
var DeadlineReferences = []string{"logical_date", "run_start", "queued_at"}

// TaskDeadlineReferences lists those of a task's deadline: the start of
// each of its tries.
var TaskDeadlineReferences = []string{"task_start"}

// callbackKeys maps a callback key to the field of Callbacks it sets.
var callbackKeys = map[string]func(*Callbacks) *[]Notifier{
	"on_success_callback": func(c *Callbacks) *[]Notifier { return &c.OnSuccess },
	"on_failure_callback": func(c *Callbacks) *[]Notifier { return &c.OnFailure },
	"on_retry_callback":   func(c *Callbacks) *[]Notifier { return &c.OnRetry },
	"on_execute_callback": func(c *Callbacks) *[]Notifier { return &c.OnExecute },
}

// taskDeadline reads a task's deadline key into t; it reports whether
// name is it.
func (l *loader) taskDeadline(t *Task, name string, n *yaml.Node, field string) bool {
	if name != "deadline" {
		return false
	}
	t.Deadline = l.deadline(n, field, TaskDeadlineReferences)
	return true
}

// callback reads a callback key into c; it reports whether name is one.
func (l *loader) callback(c *Callbacks, name string, n *yaml.Node, field string) bool {
	set, ok := callbackKeys[name]
	if !ok {
		return false
	}
	*set(c) = l.notifiers(n, field)
	return true
}

// notifiers reads one notifier entry or a list of them.
func (l *loader) notifiers(n *yaml.Node, field string) []Notifier {
	r := resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	items, fields := []*yaml.Node{n}, []string{field}
	switch r.Kind {
	case yaml.MappingNode:
	case yaml.SequenceNode:
		items, fields = r.Content, make([]string, len(r.Content))
		for i := range r.Content {
			fields[i] = indexField(field, i)
		}
	default:
		l.typeErr(n, field, wantNotifier)
		return nil
	}
	out := make([]Notifier, 0, len(items))
	for i, item := range items {
		if !l.spend() {
			return nil
		}
		if nt, ok := l.notifier(item, fields[i]); ok {
			out = append(out, nt)
		}
	}
	return out
}

const wantNotifier = "a notifier ({command: ...}, {webhook: {...}} or {email: {...}}) or a list of them"

var notifierKinds = []string{"command", "webhook", "email"}

// notifier reads one entry: a mapping with exactly one kind key.
func (l *loader) notifier(n *yaml.Node, field string) (Notifier, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.MappingNode {
		l.typeErr(n, field, wantNotifier)
		return Notifier{}, false
	}
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return Notifier{}, false
	}
	keys := l.known(entries, field, notifierKinds)
	if len(keys) != 1 {
		if len(entries) == len(keys) { // unknown keys were reported already
			l.errAt(n, field, "expected exactly one of \"command\", \"webhook\" or \"email\", got %d", len(keys))
		}
		return Notifier{}, false
	}
	nt := Notifier{Line: n.Line}
	for _, e := range entries {
		name := e.name
		f := subField(field, name)
		switch name {
		case "command":
			if s, ok := l.nonEmpty(e.val, f); ok {
				l.checkTemplate(e.val, f, s)
				nt.Command = s
			}
		case "webhook":
			nt.Webhook = l.webhook(e.val, f)
		case "email":
			nt.Email = l.email(e.val, f)
		}
	}
	return nt, nt.Command != "" || nt.Webhook != nil || nt.Email != nil
}

var webhookKeys = []string{"http_conn_id", "url", "body", "headers"}

func (l *loader) webhook(n *yaml.Node, field string) *Webhook {
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return nil
	}
	keys := l.known(entries, field, webhookKeys)
	w := &Webhook{}
	good := true
	for _, e := range entries {
		name := e.name
		if _, known := keys[name]; !known {
			continue
		}
		f := subField(field, name)
		switch name {
		case "http_conn_id":
			w.HTTPConnID, ok = l.ident(e.val, f)
		case "url":
			w.URL, ok = l.nonEmpty(e.val, f)
			if ok {
				l.checkTemplate(e.val, f, w.URL)
			}
		case "body":
			w.Body, ok = l.str(e.val, f)
			if ok {
				l.checkTemplate(e.val, f, w.Body)
			}
		case "headers":
			var m map[string]any
			m, ok = l.stringMap(e.val, f, true)
			w.Headers = make(map[string]string, len(m))
			for k, v := range m {
				w.Headers[k] = v.(string)
			}
		}
		good = good && ok
	}
	if (w.HTTPConnID == "") == (w.URL == "") && good {
		l.errAt(n, field, "expected exactly one of \"http_conn_id\" or \"url\"")
		return nil
	}
	if !good {
		return nil
	}
	return w
}

var emailKeys = []string{"smtp_conn_id", "to", "subject", "body"}

func (l *loader) email(n *yaml.Node, field string) *Email {
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return nil
	}
	keys := l.known(entries, field, emailKeys)
	m := &Email{}
	good := true
	for _, e := range entries {
		name := e.name
		if _, known := keys[name]; !known {
			continue
		}
		f := subField(field, name)
		switch name {
		case "smtp_conn_id":
			m.SMTPConnID, ok = l.ident(e.val, f)
		case "to":
			m.To, ok = l.recipients(e.val, f)
		case "subject", "body":
			var s string
			if s, ok = l.str(e.val, f); ok {
				l.checkTemplate(e.val, f, s)
			}
			if name == "subject" {
				m.Subject = s
			} else {
				m.Body = s
			}
		}
		good = good && ok
	}
	for _, req := range []string{"smtp_conn_id", "to"} {
		if _, ok := keys[req]; !ok {
			l.errAt(n, field, "missing required key %q", req)
			good = false
		}
	}
	if !good {
		return nil
	}
	return m
}

// recipients reads an address or a list of them; each must look like one.
func (l *loader) recipients(n *yaml.Node, field string) ([]string, bool) {
	r := resolve(n)
	items := []*yaml.Node{n}
	if r != nil && r.Kind == yaml.SequenceNode {
		items = r.Content
	}
	if len(items) == 0 {
		l.errAt(n, field, "expected at least one address")
		return nil, false
	}
	var out []string
	for i, c := range items {
		f := field
		if len(items) > 1 || r.Kind == yaml.SequenceNode {
			f = indexField(field, i)
		}
		s, ok := l.str(c, f)
		if !ok {
			return nil, false
		}
		if at := strings.IndexByte(s, '@'); at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \r\n<>,") {
			l.errAt(c, f, "expected an e-mail address (user@host), got %s", quoteShort(s))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

var deadlineKeys = []string{"reference", "interval", "callback"}

// deadline reads a deadline: reference (one of refs, refs[0] when
// absent), interval and callback.
func (l *loader) deadline(n *yaml.Node, field string, refs []string) *Deadline {
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return nil
	}
	keys := l.known(entries, field, deadlineKeys)
	d := &Deadline{Reference: refs[0]}
	good := true
	for _, req := range []string{"interval", "callback"} {
		if _, ok := set(keys, req); !ok {
			l.errAt(n, field, "missing required key %q", req)
			good = false
		}
	}
	if e, ok := set(keys, "reference"); ok {
		f := subField(field, "reference")
		if s, ok := l.str(e.val, f); ok {
			if !slices.Contains(refs, s) {
				l.errAt(e.val, f, "invalid reference %s%s; valid: %s", quoteShort(s), l.hint(s, refs),
					strings.Join(refs, ", "))
				good = false
			}
			d.Reference = s
		}
	}
	if e, ok := set(keys, "interval"); ok {
		f := subField(field, "interval")
		if iv, ok := l.duration(e.val, f); ok && iv <= 0 {
			l.errAt(e.val, f, "must be positive")
			good = false
		} else {
			d.Interval = iv
			good = good && ok
		}
	}
	if e, ok := set(keys, "callback"); ok {
		d.Callback = l.notifiers(e.val, subField(field, "callback"))
		good = good && len(d.Callback) > 0
	}
	if !good {
		return nil
	}
	return d
}

// notifierSchema is the JSON Schema of a notifier entry or a list of them.
func notifierSchema() map[string]any {
	str := map[string]any{"type": "string"}
	one := map[string]any{
		"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false,
		"properties": map[string]any{
			"command": withDesc(str, "Shell command run on the scheduler's machine with a minimal environment (templated)."),
			"webhook": map[string]any{"type": "object", "additionalProperties": false,
				"description": "POST a JSON body to http_conn_id's base URL or to url (templated body and headers).",
				"properties": map[string]any{"http_conn_id": str, "url": str, "body": str,
					"headers": map[string]any{"type": "object", "additionalProperties": str}}},
			"email": map[string]any{"type": "object", "additionalProperties": false, "required": []any{"smtp_conn_id", "to"},
				"description": "Send an e-mail through an smtp connection (templated subject and body).",
				"properties": map[string]any{"smtp_conn_id": str, "subject": str, "body": str,
					"to": map[string]any{"oneOf": []any{str, map[string]any{"type": "array", "items": str}}}}},
		},
	}
	return map[string]any{
		"description": "A notifier ({command}, {webhook} or {email}) or a list of them, run outside the task's try; its failures are logged, never failing the task.",
		"oneOf":       []any{one, map[string]any{"type": "array", "items": one}},
	}
}

// deadlineSchema is the JSON Schema of a deadline with the given
// references.
func deadlineSchema(refs []string) map[string]any {
	return map[string]any{
		"type": "object", "additionalProperties": false, "required": []any{"interval", "callback"},
		"properties": map[string]any{
			"reference": map[string]any{"enum": anySlice(refs)},
			"interval":  map[string]any{"$ref": "#/$defs/duration"},
			"callback":  map[string]any{"$ref": "#/$defs/notifiers"},
		},
	}
}

// dagCallbacks reads the DAG's own callbacks and deadline.
func (l *loader) dagCallbacks(d *DAG, keys map[string]entry) {
	for _, name := range []string{"on_success_callback", "on_failure_callback"} {
		if e, ok := set(keys, name); ok {
			l.callback(&d.Callbacks, name, e.val, name)
		}
	}
	if e, ok := set(keys, "deadline"); ok {
		d.Deadline = l.deadline(e.val, "deadline", DeadlineReferences)
	}
}
