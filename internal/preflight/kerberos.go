package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kerberos"
)

// kerberosCheck is the kerberos step of a connection with a principal
// or a keytab extra: a ticket obtained from the keytab into a throwaway
// ticket cache, removed afterwards (the user's own cache is never
// touched).
func (ck *Checker) kerberosCheck(c connection.Connection) (Check, bool) {
	principal, keytab := sparkExtra(c.Extra, "principal"), sparkExtra(c.Extra, "keytab")
	if principal == "" && keytab == "" {
		return Check{}, false
	}
	return Check{Name: StepKerberos, Target: principal, Run: func(ctx context.Context) (string, error) {
		switch {
		case principal == "":
			return "", errors.New("the connection has a keytab but no principal")
		case keytab == "":
			return "", errors.New("the connection has a principal but no keytab")
		}
		return ck.kinit(ctx, principal, keytab)
	}}, true
}

// kinit gets a ticket for principal from keytab into a temporary cache.
func (ck *Checker) kinit(ctx context.Context, principal, keytab string) (string, error) {
	dir, err := os.MkdirTemp("", "sirocco-preflight-krb-")
	if err != nil {
		return "", fmt.Errorf("ticket cache folder: %w", err)
	}
	defer os.RemoveAll(dir)
	r := &kerberos.Renewer{Principal: principal, Keytab: keytab, CCache: filepath.Join(dir, "ccache"),
		Kinit: ck.Kinit, Env: ck.KerberosEnv}
	t, err := r.Renew(ctx)
	if err != nil {
		return "", err
	}
	if t.Expires.IsZero() {
		return "ticket obtained for " + t.Principal, nil
	}
	return fmt.Sprintf("ticket obtained for %s, expires %s (in %s)", t.Principal,
		t.Expires.Format(time.RFC3339), time.Until(t.Expires).Round(time.Second)), nil
}
