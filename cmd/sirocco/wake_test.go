package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestTriggerWaitFromAnotherProcess: `dags trigger --wait` in its own
// process, beside a running standalone, with a poll interval of an hour
// for both: the standalone starts the run because the CLI's insert
// notified it, and --wait returns because the run's end notified the CLI.
// Neither would happen within the test's bound by polling.
func TestTriggerWaitFromAnotherProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"sqlite", func(*testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"SIROCCO_DATABASE_URL=" + testenv.Postgres(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSiteWith(t, tc.env(t), map[string]string{"chain.yaml": `dag_id: chain
tasks:
  - {id: a, operator: bash, command: "true"}
  - {id: b, operator: bash, command: "true", depends_on: [a]}
  - {id: c, operator: bash, command: "true", depends_on: [b]}
`})
			s.startServer()
			out, errOut, err := s.runWithin(60*time.Second, "dags", "trigger", "chain", "--wait", "--run-id", "r1")
			if err != nil {
				t.Fatalf("trigger --wait: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
			}
			if !strings.Contains(out, "[3/3] success") || !strings.Contains(out, "Run r1 success") {
				t.Errorf("trigger --wait output:\n%s", out)
			}
		})
	}
}

// newSiteWith is newSite with env added to every command, the first
// (db migrate) included; the poll interval is an hour.
func newSiteWith(t *testing.T, env []string, dags map[string]string) *site {
	t.Helper()
	home := t.TempDir()
	s := &site{t: t, home: home, dags: filepath.Join(home, "dags"), extraEnv: append(env, "SIROCCO_POLL_INTERVAL=1h")}
	if err := os.MkdirAll(s.dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range dags {
		s.write(name, body)
	}
	s.mustRun("db", "migrate")
	return s
}

// runWithin runs the CLI, killed if it has not ended within limit.
func (s *site) runWithin(limit time.Duration, args ...string) (string, string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = s.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = errors.New("still running after " + limit.String())
	}
	return out.String(), errb.String(), err
}

// TestTriggerWaitShowsRetry: a try that fails and waits out its
// retry_delay shows as up_for_retry in `dags trigger --wait`'s progress,
// before the run's success. The poll interval is an hour, so the wait sees
// it only because the failed try's write notified it (it used to look only
// when the run started and ended, and every poll).
func TestTriggerWaitShowsRetry(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "failed-once")
	s := newSiteWith(t, nil, map[string]string{"flaky.yaml": `dag_id: flaky
tasks:
  - id: flaky
    operator: bash
    retries: 1
    retry_delay: 1s
    command: 'if [ -e ` + marker + ` ]; then exit 0; fi; touch ` + marker + `; exit 3'
  - {id: after, operator: bash, command: "true", depends_on: [flaky]}
`})
	s.startServer()
	out, errOut, err := s.runWithin(60*time.Second, "dags", "trigger", "flaky", "--wait", "--run-id", "r1")
	if err != nil {
		t.Fatalf("trigger --wait: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	retry := strings.Index(out, "flaky=up_for_retry")
	done := strings.Index(out, "[2/2] success")
	if retry < 0 || done < retry || !strings.Contains(out, "Run r1 success") {
		t.Errorf("trigger --wait must print the up_for_retry before the success:\n%s", out)
	}
}
