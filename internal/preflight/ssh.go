package preflight

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// DefaultProviders returns the providers of the connection types that
// have steps of their own. Each call returns a new map, which a caller
// may extend.
func DefaultProviders() map[string]Provider {
	ssh := SSHProvider(sshLogin)
	return map[string]Provider{
		"spark":      sparkProvider,
		"ssh":        ssh,
		"sftp":       ssh,
		"kubernetes": kubeProvider,
		"k8s":        kubeProvider,
		"http":       httpProvider,
		"https":      httpProvider,
		"smtp":       smtpProvider,
	}
}

// SSHSteps makes the checks that log in over SSH, in order: handshake,
// host key verified (recorded when Checker.AcceptHostKey), auth, and
// running `true`, through the bastion when the connection has a
// proxy_jump. The checks may share one client, which close (optional)
// releases after the last step. They run after the dns, tcp and
// "ssh banner" steps of the address reached first (the bastion's, with a
// proxy_jump), and should list StepTCP in their Needs.
type SSHSteps func(ctx context.Context, ck *Checker, c connection.Connection) (checks []Check, close func(), err error)

// StepSSHBanner is the step that reads the SSH server's identification.
const StepSSHBanner = "ssh banner"

// SSHProvider is the provider of ssh connections: dns and tcp to the host
// (or to the bastion of a proxy_jump), the server's identification line,
// then login's steps.
func SSHProvider(login SSHSteps) Provider {
	return func(ctx context.Context, ck *Checker, c connection.Connection) (Plan, error) {
		reach, via, err := sshReach(ctx, ck, c)
		if err != nil {
			return Plan{}, err
		}
		plan := Plan{Reach: reach, Checks: []Check{bannerCheck(reach, via)}}
		checks, closeFn, err := login(ctx, ck, c)
		if err != nil {
			return Plan{}, err
		}
		plan.Checks, plan.Close = append(plan.Checks, checks...), closeFn
		return plan, nil
	}
}

// sshReach returns the address reached first: the connection's, or, with
// a proxy_jump, that of the outermost bastion of the chain, resolved as
// the ssh client resolves it (a connection id, or [ssh://][user@]host[:port]),
// with a label for the latter.
func sshReach(ctx context.Context, ck *Checker, c connection.Connection) (addr, via string, err error) {
	env := sshclient.OSEnv()
	s, err := sshclient.FromConnection(c, env)
	if err != nil {
		return "", "", err
	}
	if s.ProxyJump == "" {
		addr, err := DialTarget(c)
		return addr, "", err
	}
	if err := sshclient.ResolveJumps(ctx, ck.sshLookup(), s, env); err != nil {
		return "", "", err
	}
	first := s.Jump
	for first.Jump != nil {
		first = first.Jump
	}
	return first.Addr(), "bastion " + s.ProxyJump, nil
}

// sshLookup resolves the connection ids of proxy_jump.
func (ck *Checker) sshLookup() sshclient.Lookup {
	return func(ctx context.Context, id string) (connection.Connection, error) {
		if ck.Lookup == nil {
			return connection.Connection{}, fmt.Errorf("connection %s: no connection lookup configured", id)
		}
		return ck.Lookup(ctx, id)
	}
}

// maxBannerLines bounds the lines a server may send before its
// identification (RFC 4253 §4.2 allows some); maxBannerLine bounds each.
const (
	maxBannerLines = 20
	maxBannerLine  = 255
)

func bannerCheck(addr, via string) Check {
	target := addr
	if via != "" {
		target += " (" + via + ")"
	}
	return Check{Name: StepSSHBanner, Target: target, Needs: []string{StepTCP},
		Run: func(ctx context.Context) (string, error) { return readBanner(ctx, addr) }}
}

// readBanner connects to addr and returns the server's identification
// line ("SSH-2.0-OpenSSH_9.2p1 Debian-2"), which an SSH server sends
// first, without logging in.
func readBanner(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	return scanBanner(bufio.NewReaderSize(conn, maxBannerLine+1))
}

// scanBanner reads lines until the one that starts with "SSH-".
func scanBanner(r *bufio.Reader) (string, error) {
	var first string
	for range maxBannerLines {
		line, err := r.ReadSlice('\n')
		text := strings.TrimRight(string(line), "\r\n")
		if first == "" {
			first = text
		}
		if strings.HasPrefix(text, "SSH-") {
			if !strings.HasPrefix(text, "SSH-2.0-") && !strings.HasPrefix(text, "SSH-1.99-") {
				return "", fmt.Errorf("the server speaks an SSH version Sirocco does not: %q", printable(text))
			}
			return printable(text), nil
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return "", fmt.Errorf("not an SSH server: a line longer than %d bytes before any identification", maxBannerLine)
			}
			if first == "" {
				return "", fmt.Errorf("the server closed or sent nothing before its SSH identification: %w", err)
			}
			return "", fmt.Errorf("not an SSH server (it sent %q): %w", printable(first), err)
		}
	}
	return "", fmt.Errorf("not an SSH server: no identification in its first %d lines (first: %q)", maxBannerLines, printable(first))
}

// printable keeps a server's text fit for a report: at most
// maxBannerLine bytes, control characters replaced.
func printable(s string) string {
	if len(s) > maxBannerLine {
		s = s[:maxBannerLine]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
