package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleGreetingCannotEscapeItsCommand: hello_sirocco's greeting is
// a param any User can type in the trigger form; a quote and a `;` in it
// stay text, they do not end the echo and run a command of their own.
func TestExampleGreetingCannotEscapeItsCommand(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "hello_sirocco.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(t, map[string]string{"hello_sirocco.yaml": string(body)})
	marker := filepath.Join(s.home, "escaped")
	conf := `{"greeting": "Bonjour \"it's\" me; touch ` + marker + `"}`
	// Only greet matters here: report's script lives beside the examples.
	out, _, _ := s.run("dags", "test", "hello_sirocco", "--conf", conf)
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the greeting ran a command of its own:\n%s", out)
	}
	logs := s.mustRun("tasks", "logs", "hello_sirocco", runIDOf(t, out), "greet")
	if !strings.Contains(logs, `Bonjour "it's" me; touch `+marker+` from run`) {
		t.Errorf("greet did not echo the greeting as typed:\n%s", logs)
	}
}

// runIDOf finds the run id in `dags test` output ("Run <id> <state>").
func runIDOf(t *testing.T, out string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, "Run "); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no run in:\n%s", out)
	return ""
}
