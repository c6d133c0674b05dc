package preflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// The steps of logging in over SSH, after the banner.
const (
	StepSSHHandshake = "ssh handshake"
	StepSSHHostKey   = "ssh host key"
	StepSSHAuth      = "ssh auth"
	StepSSHRun       = "ssh run true"
)

// maxAcceptedKeys bounds the keys --accept-host-key records in one check:
// a bastion's and its target's.
const maxAcceptedKeys = 4

// sshLogin checks a login with the same client the ssh operator uses. One
// dial does the handshake, host key, auth (through the bastion of a
// proxy_jump, each hop verified); its error is sorted into the step it
// belongs to, and the later steps are skipped.
func sshLogin(_ context.Context, ck *Checker, c connection.Connection) ([]Check, func(), error) {
	env := sshclient.OSEnv()
	s, err := sshclient.FromConnection(c, env)
	if err != nil {
		return nil, nil, err
	}
	l := &sshLoginState{ck: ck, s: s, env: env}
	checks := []Check{
		{Name: StepSSHHandshake, Target: s.Addr() + viaLabel(s), Needs: []string{StepSSHBanner}, Run: l.handshake},
		{Name: StepSSHHostKey, Target: s.Addr(), Needs: []string{StepSSHHandshake}, Run: l.stage(sshclient.StageHostKey, l.hostKeyDetail)},
		{Name: StepSSHAuth, Target: s.User + "@" + s.Addr(), Needs: []string{StepSSHHostKey}, Run: l.stage(sshclient.StageAuth, l.authDetail)},
		{Name: StepSSHRun, Target: s.Addr(), Needs: []string{StepSSHAuth}, Run: l.runTrue},
	}
	return checks, l.close, nil
}

func viaLabel(s *sshclient.Settings) string {
	if s.ProxyJump == "" {
		return ""
	}
	return " (via " + s.ProxyJump + ")"
}

// sshLoginState is what the login steps share: one dial and its outcome.
type sshLoginState struct {
	ck       *Checker
	s        *sshclient.Settings
	env      sshclient.Env
	client   *sshclient.Client
	err      error // the dial's
	accepted []string
}

func (l *sshLoginState) close() {
	if l.client != nil {
		_ = l.client.Close()
	}
}

// handshake resolves the bastions and dials. Its own step fails only for
// what precedes the host key (settings, reach, key exchange); later
// failures belong to later steps.
func (l *sshLoginState) handshake(ctx context.Context) (string, error) {
	if err := sshclient.ResolveJumps(ctx, l.ck.sshLookup(), l.s, l.env); err != nil {
		l.err = err
		return "", err
	}
	l.client, l.err = l.dial(ctx)
	if stage := stageOf(l.err); stage != "" && stage != sshclient.StageHostKey && stage != sshclient.StageAuth {
		return "", l.err
	}
	return "key exchange done with " + l.s.Addr(), nil
}

// dial dials; with AcceptHostKey, a host (or bastion) seen for the first
// time is recorded in the first known_hosts file of the hop that did not
// know it (a bastion connection may have files of its own) and dialed
// again. A key that differs from a known one is never accepted.
func (l *sshLoginState) dial(ctx context.Context) (*sshclient.Client, error) {
	for range maxAcceptedKeys {
		c, err := sshclient.Dial(ctx, l.s, slog.New(slog.DiscardHandler))
		var hke *sshclient.HostKeyError
		if err == nil || !l.ck.AcceptHostKey || !errors.As(err, &hke) || len(hke.Known) > 0 || hke.Revoked || len(hke.Files) == 0 {
			return c, err
		}
		file := hke.Files[0]
		if err := sshclient.AppendKnownHost(file, hke.Addr, hke.Key); err != nil {
			return nil, fmt.Errorf("record the host key of %s: %w", hke.Addr, err)
		}
		l.accepted = append(l.accepted, fmt.Sprintf("%s %s %s recorded in %s", hke.Addr, hke.Key.Type(), hke.Fingerprint(), file))
	}
	return nil, fmt.Errorf("ssh connection %s: more than %d new host keys on the way", l.s.ConnID, maxAcceptedKeys)
}

// stage makes the step that fails when the dial failed at stage.
func (l *sshLoginState) stage(stage sshclient.Stage, detail func() string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if stageOf(l.err) == stage {
			return "", l.err
		}
		return detail(), nil
	}
}

func (l *sshLoginState) hostKeyDetail() string {
	if len(l.accepted) > 0 {
		return "trusted now: " + strings.Join(l.accepted, "; ")
	}
	if l.s.InsecureSkipHostKey {
		return "NOT VERIFIED (insecure_skip_host_key)"
	}
	return "verified"
}

func (l *sshLoginState) authDetail() string { return "logged in as " + l.s.User }

func (l *sshLoginState) runTrue(ctx context.Context) (string, error) {
	code, err := l.client.Run(ctx, "true", nil, nil)
	switch {
	case err != nil:
		return "", err
	case code != 0:
		return "", fmt.Errorf("`true` exited %d", code)
	}
	return "`true` ran", nil
}

// stageOf returns the stage an ssh dial failed at, "" for no error.
func stageOf(err error) sshclient.Stage {
	var e *sshclient.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Stage
	}
	return sshclient.StageConfig
}
