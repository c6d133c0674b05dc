// Package kerberos keeps a Kerberos ticket cache fresh from a keytab, as
// `airflow kerberos` does: MIT kinit is run with the keytab on an interval,
// and every task Sirocco runs reads the cache through KRB5CCNAME.
//
// Sirocco never reads the keytab: its path is all kinit gets, on argv, and
// no secret is ever on a command line or in a log. A renewal writes a new
// cache beside the old one and renames it into place, so a task never sees
// a half-written cache and a failed renewal leaves the last good ticket.
package kerberos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultRetry is how soon a failed renewal is tried again (or the
// interval, when that is shorter): a KDC that is down for a moment must
// not leave the cache to expire until the next interval.
const DefaultRetry = 30 * time.Second

// Renewer runs kinit with a keytab into a ticket cache.
type Renewer struct {
	// Principal to log in as; _HOST is replaced by this host's name, as
	// Airflow's [kerberos] principal.
	Principal string
	Keytab    string // path of the keytab file
	// CCache is the ticket cache: a path, FILE:path, or another MIT cache
	// type (written in place by kinit).
	CCache string
	// Interval is the time between renewals (Run); Run needs it positive.
	Interval time.Duration
	// Retry is the delay after a failed renewal; zero means DefaultRetry.
	Retry time.Duration
	// Kinit is MIT kinit, a path or a name in PATH; klist is the one beside
	// it (or in PATH). Empty means "kinit".
	Kinit string
	// Env is the environment kinit and klist start from (KRB5_CONFIG and
	// the like); nil means this process's. KRB5CCNAME is always set.
	Env    []string
	Logger *slog.Logger
}

// Run renews the ticket now and then every Interval until ctx ends. The
// first renewal's failure is returned at once: a wrong principal or keytab
// is a configuration error. A later failure (the KDC down for a moment) is
// logged and retried after Retry, keeping the last good ticket meanwhile.
// Run returns nil once ctx ends.
func (r *Renewer) Run(ctx context.Context) error {
	if r.Interval <= 0 {
		return fmt.Errorf("kerberos: reinit_frequency must be positive, got %s", r.Interval)
	}
	if _, err := r.Renew(ctx); err != nil {
		return err
	}
	retry := r.Retry
	if retry <= 0 {
		retry = DefaultRetry
	}
	timer := time.NewTimer(r.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		next := r.Interval
		if _, err := r.Renew(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			next = min(retry, r.Interval)
			r.logger().Error("kerberos ticket not renewed; keeping the last one", "err", err, "retry_in", next)
		}
		timer.Reset(next)
	}
}

// Renew gets a new ticket for the principal from the keytab into the
// cache once (`kinit -f -r LIFE -k -t KEYTAB -- PRINCIPAL`), logs it with its
// expiry and returns it. Its error names the principal, the keytab and
// kinit's own message, with a hint for the usual causes.
func (r *Renewer) Renew(ctx context.Context) (Ticket, error) {
	principal, err := r.principal()
	if err != nil {
		return Ticket{}, err
	}
	if err := checkKeytab(r.Keytab); err != nil {
		return Ticket{}, fmt.Errorf("kerberos login of %s: %w", principal, err)
	}
	kinit, err := exec.LookPath(r.kinitName())
	if err != nil {
		return Ticket{}, fmt.Errorf("kerberos: %w (install the MIT Kerberos clients, Debian's krb5-user, or set kerberos.kinit_path)", err)
	}
	if r.CCache == "" {
		return Ticket{}, errors.New("kerberos: no ticket cache (kerberos.ccache) given")
	}
	write, commit, abort, err := r.staging()
	if err != nil {
		return Ticket{}, err
	}
	// "--": the principal is never read as an option of kinit's.
	args := []string{"-f", "-r", renewLifetime(r.Interval), "-k", "-t", r.Keytab, "--", principal}
	cmd := exec.CommandContext(ctx, kinit, args...)
	cmd.Env = r.env(write)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		abort()
		return Ticket{}, loginError(principal, r.Keytab, out.String(), err)
	}
	if err := commit(); err != nil {
		return Ticket{}, err
	}
	t, err := r.list(ctx, kinit)
	if err != nil {
		return Ticket{}, err
	}
	r.logger().Info("kerberos ticket renewed", "principal", t.Principal, "ccache", r.CCache,
		"valid_from", timeAttr(t.Start), "expires", timeAttr(t.Expires), "renew_until", timeAttr(t.RenewUntil))
	return t, nil
}

// principal returns Principal with _HOST replaced by the host name.
func (r *Renewer) principal() (string, error) {
	p := strings.TrimSpace(r.Principal)
	if p == "" {
		return "", errors.New("kerberos: no principal given (kerberos.principal, SIROCCO_KERBEROS_PRINCIPAL)")
	}
	if strings.HasPrefix(p, "-") {
		// kinit would take it for an option (-c PATH: write the ticket
		// cache elsewhere); a connection's principal extra is user input.
		return "", fmt.Errorf("kerberos: principal %q starts with '-': expected name[/instance]@REALM", p)
	}
	if strings.Contains(p, "_HOST") {
		host, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("kerberos: principal %s: host name for _HOST: %w", p, err)
		}
		p = strings.ReplaceAll(p, "_HOST", strings.ToLower(host))
	}
	return p, nil
}

// checkKeytab says plainly when the keytab is missing or unreadable,
// before kinit says "Key table file not found".
func checkKeytab(path string) error {
	if path == "" {
		return errors.New("no keytab given (kerberos.keytab, SIROCCO_KERBEROS_KEYTAB)")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("keytab: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("keytab: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("keytab %s is not a file", path)
	}
	return nil
}

func (r *Renewer) kinitName() string {
	if r.Kinit == "" {
		return "kinit"
	}
	return r.Kinit
}

// renewLifetime is the renewable lifetime asked of the KDC, which caps it:
// the interval read as minutes instead of seconds (60 times longer), as
// Airflow asks, so that a program holding the cache can renew its ticket
// well past a missed renewal.
func renewLifetime(interval time.Duration) string {
	if interval <= 0 {
		interval = time.Hour
	}
	return strconv.FormatInt(int64(interval/time.Second)*60, 10) + "s"
}

// staging returns the cache kinit writes, and how to put it in place: for a
// file cache, a temporary file beside it that commit renames over it
// (atomic, and a failed kinit leaves the old cache alone); for another
// cache type, the cache itself.
func (r *Renewer) staging() (write string, commit func() error, abort func(), err error) {
	path, isFile := filePath(r.CCache)
	if !isFile {
		return r.CCache, func() error { return nil }, func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", nil, nil, fmt.Errorf("kerberos: ticket cache folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return "", nil, nil, fmt.Errorf("kerberos: ticket cache: %w", err)
	}
	tmp.Close()
	name := tmp.Name()
	// kinit overwrites the empty file in place (mode 0600).
	commit = func() error {
		if err := os.Rename(name, path); err != nil {
			os.Remove(name)
			return fmt.Errorf("kerberos: put the new ticket cache in place: %w", err)
		}
		return nil
	}
	return "FILE:" + name, commit, func() { os.Remove(name) }, nil
}

// filePath returns the path of a file cache (path or FILE:path).
func filePath(ccache string) (string, bool) {
	if p, ok := strings.CutPrefix(ccache, "FILE:"); ok {
		return p, true
	}
	if typ, _, ok := strings.Cut(ccache, ":"); ok && !strings.ContainsRune(typ, '/') {
		return "", false // KEYRING:, DIR:, KCM:, MEMORY:
	}
	return ccache, true
}

// env is the environment of kinit and klist: Env, the C locale (klist's
// dates), and KRB5CCNAME naming ccache.
func (r *Renewer) env(ccache string) []string {
	env := r.Env
	if env == nil {
		env = os.Environ()
	}
	return append(env[:len(env):len(env)], "LC_ALL=C", "KRB5CCNAME="+ccache)
}

// list reads the cache back with klist (found beside kinit).
func (r *Renewer) list(ctx context.Context, kinit string) (Ticket, error) {
	klist := filepath.Join(filepath.Dir(kinit), "klist")
	if _, err := os.Stat(klist); err != nil {
		if klist, err = exec.LookPath("klist"); err != nil {
			return Ticket{}, fmt.Errorf("kerberos: %w (install the MIT Kerberos clients, Debian's krb5-user)", err)
		}
	}
	cmd := exec.CommandContext(ctx, klist)
	cmd.Env = r.env(r.CCache)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Ticket{}, fmt.Errorf("kerberos: klist of the renewed cache %s: %w: %s", r.CCache, err, strings.TrimSpace(string(out)))
	}
	t, ok := parseKlist(string(out), time.Local)
	if !ok {
		return Ticket{}, fmt.Errorf("kerberos: klist of %s shows no default principal:\n%s", r.CCache, out)
	}
	return t, nil
}

func timeAttr(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Format(time.RFC3339)
}

func (r *Renewer) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// kinitHints explain kinit's usual messages in the user's terms.
var kinitHints = []struct{ match, hint string }{
	{"Keytab contains no suitable keys", "the keytab holds no key for this principal; list its principals with `klist -k KEYTAB`"},
	{"Password incorrect", "the keytab's key is out of date: the principal's key changed after the keytab was exported; export it again"},
	{"Preauthentication failed", "the keytab's key is out of date: the principal's key changed after the keytab was exported; export it again"},
	{"not found in Kerberos database", "the KDC does not know this principal: check its spelling and realm"},
	{"Cannot contact any KDC", "no KDC of the realm answered: check krb5.conf (KRB5_CONFIG) and the network"},
	{"Cannot find KDC for realm", "krb5.conf (KRB5_CONFIG) names no KDC for this principal's realm"},
	{"Clock skew too great", "this host's clock and the KDC's differ too much"},
}

// loginError reports a failed kinit: who, with which keytab, kinit's own
// words, and a hint when the cause is a usual one.
func loginError(principal, keytab, out string, err error) error {
	msg := strings.TrimSpace(out)
	if msg == "" {
		msg = err.Error()
	}
	hint := ""
	for _, h := range kinitHints {
		if strings.Contains(msg, h.match) {
			hint = " (" + strings.ReplaceAll(h.hint, "KEYTAB", keytab) + ")"
			break
		}
	}
	return fmt.Errorf("kerberos login of %s with keytab %s failed: %s%s", principal, keytab, msg, hint)
}
