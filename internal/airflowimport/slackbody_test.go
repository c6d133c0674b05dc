package airflowimport

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/template"
)

// renderSlack renders a body slackBody wrote, with the names the
// expressions use given odd values (quotes, newlines), and decodes it.
func renderSlack(t *testing.T, body string) (string, error) {
	t.Helper()
	ctx := template.Context{"run_id": "manual__\"x\"\n", "ti": map[string]any{"task_id": `a\b`}, "n": 3}
	out, err := template.Render(body, ctx)
	if err != nil {
		return "", err
	}
	var got struct{ Text string }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("body %s rendered to %q, not JSON: %v", body, out, err)
	}
	return got.Text, nil
}

// TestSlackBody: a SlackWebhookNotifier's text becomes a body that renders
// to JSON whatever its templates put in it.
func TestSlackBody(t *testing.T) {
	cases := []struct{ text, want string }{
		{"plain \"quoted\" text", "plain \"quoted\" text"},
		{`run {{ run_id }} of "{{ ti.task_id }}"` + "\n\tdone", "run manual__\"x\"\n of \"a\\b\"\n\tdone"},
		{"{{ n }}", "3"},
		{`{{ ti.task_id | upper }} \ back`, "A\\B \\ back"},
	}
	for _, c := range cases {
		body, err := slackBody(c.text)
		if err != nil {
			t.Errorf("slackBody(%q): %v", c.text, err)
			continue
		}
		got, err := renderSlack(t, body)
		if err != nil || got != c.want {
			t.Errorf("slackBody(%q) = %s renders %q (%v), want %q", c.text, body, got, err, c.want)
		}
	}
	for _, bad := range []string{"{% if n %}x{% endif %}", "open {{ n", "{{ }}", "{# c #}"} {
		if _, err := slackBody(bad); err == nil {
			t.Errorf("slackBody(%q): no error", bad)
		}
	}
}

// FuzzSlackBody: whatever the text, slackBody fails or writes a body that
// either does not render (a bad expression) or renders to JSON {"text": ...}.
func FuzzSlackBody(f *testing.F) {
	for _, s := range []string{"DAG {{ dag.dag_id }} succeeded", `task "{{ ti.task_id }}" done`, "plain", "{{ n }}\n\\", "}}{{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		body, err := slackBody(text)
		if err != nil {
			return
		}
		if !strings.Contains(text, "{{") {
			var got struct{ Text string }
			if err := json.Unmarshal([]byte(body), &got); err != nil || utf8.ValidString(text) && got.Text != text {
				t.Fatalf("literal %q gave %s (%v)", text, body, err)
			}
			return
		}
		_, _ = renderSlack(t, body)
	})
}
