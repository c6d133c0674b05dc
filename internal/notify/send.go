package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// Sender delivers notifiers, one attempt per Send. Its dependencies are
// passed in; the zero value sends commands and webhooks by URL only.
type Sender struct {
	// Connections resolves http_conn_id and smtp_conn_id.
	Connections func(ctx context.Context, id string) (connection.Connection, error)
	// Variables reads var.value.KEY for the templates (nil: none).
	Variables func(ctx context.Context, key string) (string, error)
	// Env is the whole environment of a command notifier: minimal, never
	// the scheduler's nor a task's (no secrets). Nil: DefaultEnv.
	Env []string
	// Dir is the working directory of command notifiers ("" = the process's).
	Dir string
	// Timeout bounds one attempt (0: DefaultTimeout).
	Timeout time.Duration
	// HTTP is the client of webhooks (nil: a client without redirects).
	HTTP *http.Client
}

// DefaultTimeout bounds one delivery attempt.
const DefaultTimeout = 30 * time.Second

// DefaultEnv is the environment of command notifiers when Sender.Env is nil.
var DefaultEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}

// maxOutput bounds what is kept of a command's output or an answer body.
const maxOutput = 4 << 10

// Send renders n for ev and delivers it once. It returns a short account
// of what was done (a command's output, the webhook's status) and an error
// if the delivery failed; both have every secret used masked.
func (s *Sender) Send(ctx context.Context, n dag.Notifier, ev Event) (string, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mask := &tasklog.Secrets{}
	tc := Context(ctx, ev, s.Variables, mask)
	var out string
	var err error
	switch n.Kind() {
	case "webhook":
		out, err = s.webhook(ctx, n.Webhook, tc, mask)
	case "email":
		out, err = s.email(ctx, n.Email, tc, mask)
	default:
		out, err = s.command(ctx, n.Command, tc)
	}
	out = mask.Mask(out)
	if err != nil {
		return out, errors.New(mask.Mask(err.Error()))
	}
	return out, nil
}

// render renders one templated string of a notifier.
func render(ctx context.Context, what, src string, tc template.Context) (string, error) {
	out, err := template.DefaultLimits.Render(ctx, src, tc)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", what, err)
	}
	return out, nil
}

// command runs the rendered command with sh in its own process group,
// killed as a whole at the timeout. The script is written to a private
// file that sh reads, never put in argv: a rendered secret would show in
// ps to every user of the machine.
func (s *Sender) command(ctx context.Context, src string, tc template.Context) (string, error) {
	line, err := render(ctx, "command", src, tc)
	if err != nil {
		return "", err
	}
	script, err := writeScript(line)
	if err != nil {
		return "", err
	}
	defer os.Remove(script)
	cmd := exec.CommandContext(ctx, "/bin/sh", script)
	cmd.Env = s.Env
	if cmd.Env == nil {
		cmd.Env = DefaultEnv
	}
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var buf limitedBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	out := strings.TrimSpace(buf.String())
	if ctx.Err() != nil {
		return out, fmt.Errorf("command: stopped after its timeout: %w", ctx.Err())
	}
	if err != nil {
		return out, fmt.Errorf("command: %w: %s", err, lastLine(out))
	}
	return out, nil
}

// writeScript writes the rendered command to a new 0600 file in the
// temporary directory and returns its path; the caller removes it.
func writeScript(line string) (string, error) {
	f, err := os.CreateTemp("", "sirocco-notify-*.sh")
	if err != nil {
		return "", fmt.Errorf("command: write the script: %w", err)
	}
	_, werr := f.WriteString(line + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("command: write the script: %w", err)
	}
	return f.Name(), nil
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return l.b.String() }

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
