package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/kube"
)

// DefaultTimeout bounds each step when Checker.Timeout is zero: long
// enough for a handshake across the world, short enough that a firewall
// that drops packets is reported before anyone gives up waiting.
const DefaultTimeout = 5 * time.Second

// Outcome is how a step ended.
type Outcome string

// Outcomes. Only OK and Skipped let a report pass.
const (
	OK      Outcome = "ok"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped"
)

// Step names shared by every connection type, which providers' checks
// may list in Needs.
const (
	StepDNS      = "dns"
	StepTCP      = "tcp"
	StepKerberos = "kerberos"
)

// Check is one step to run: Run returns what it found (addresses, a
// version) or why it failed.
type Check struct {
	Name   string // short, lower case: "tcp", "spark rest"
	Target string // what it checks: a host, host:port, URL or principal
	// Needs names earlier steps that must have passed (ok) for this one
	// to run; otherwise it is skipped, naming the first that did not.
	Needs []string
	// Run does the check within ctx (bounded by Checker.Timeout). A nil
	// Run is a step that is skipped with Detail as its reason: something
	// deliberately not checked.
	Run    func(ctx context.Context) (detail string, err error)
	Detail string
}

// Plan is what a Provider contributes for one connection.
type Plan struct {
	// Reach is the host:port the dns and tcp steps check; empty means the
	// connection's own host and port (its type's usual port when unset).
	Reach string
	// Local means there is nothing to reach (Spark's local mode): no dns
	// or tcp step at all.
	Local bool
	// Checks run after dns and tcp, in order.
	Checks []Check
	// Close, when set, runs after the last step (to close a client the
	// checks shared).
	Close func()
}

// Provider makes the plan of a connection type. An error (a setting that
// cannot be read) becomes a failed "settings" step.
type Provider func(ctx context.Context, ck *Checker, c connection.Connection) (Plan, error)

// Checker runs checks. The zero value works: DefaultProviders, kinit from
// PATH, this process's environment, DefaultTimeout per step.
type Checker struct {
	// Providers by conn_type; nil means DefaultProviders().
	Providers map[string]Provider
	// Timeout bounds each step; zero means DefaultTimeout.
	Timeout time.Duration
	// AcceptHostKey lets the ssh provider trust and record a host key it
	// has not seen before (`connections test --accept-host-key`).
	AcceptHostKey bool
	// Lookup resolves connection ids: CheckIDs' ids and those a
	// connection names (an SSH proxy_jump). Required by CheckIDs.
	Lookup func(ctx context.Context, id string) (connection.Connection, error)
	// Kinit is MIT kinit for the kerberos step ("" = kinit in PATH);
	// KerberosEnv its environment (nil = this process's: KRB5_CONFIG...).
	Kinit       string
	KerberosEnv []string
	// Now is the clock of reports; nil means time.Now.
	Now func() time.Time
	// Kube caches the clients of kubernetes connections (the engine's,
	// which its operators use); nil builds one per check.
	Kube *kube.Clients
}

func (ck *Checker) timeout() time.Duration {
	if ck.Timeout > 0 {
		return ck.Timeout
	}
	return DefaultTimeout
}

func (ck *Checker) now() time.Time {
	if ck.Now != nil {
		return ck.Now()
	}
	return time.Now()
}

func (ck *Checker) provider(typ string) Provider {
	providers := ck.Providers
	if providers == nil {
		providers = DefaultProviders()
	}
	return providers[typ]
}

// CheckIDs resolves and checks each connection id in order, and reports
// whether all passed. An id that cannot be resolved is a report with one
// failed "lookup" step.
func (ck *Checker) CheckIDs(ctx context.Context, ids []string) ([]Report, bool) {
	reports := make([]Report, 0, len(ids))
	ok := true
	for _, id := range ids {
		r := ck.checkID(ctx, id)
		ok = ok && r.OK()
		reports = append(reports, r)
	}
	return reports, ok
}

func (ck *Checker) checkID(ctx context.Context, id string) Report {
	if ck.Lookup == nil {
		return failedReport(ck.now(), id, "lookup", id, errors.New("preflight: no connection lookup configured"))
	}
	start := time.Now()
	c, err := ck.Lookup(ctx, id)
	if err != nil {
		r := failedReport(ck.now(), id, "lookup", id, fmt.Errorf("resolve connection: %w", err))
		r.Steps[0].Duration = time.Since(start)
		return r
	}
	return ck.Check(ctx, c)
}

func failedReport(at time.Time, id, step, target string, err error) Report {
	return Report{ConnID: id, Started: at, Steps: []Step{{Name: step, Target: target, Outcome: Failed, Detail: err.Error()}}}
}

// Check runs the steps of connection c and returns its report: dns and
// tcp to the provider's address (or the connection's own), the
// provider's checks, then kerberos when the connection has a principal.
func (ck *Checker) Check(ctx context.Context, c connection.Connection) Report {
	r := Report{ConnID: c.ID, ConnType: c.Type, Started: ck.now()}
	var plan Plan
	if p := ck.provider(c.Type); p != nil {
		var err error
		if plan, err = p(ctx, ck, c); err != nil {
			r.Steps = append(r.Steps, Step{Name: "settings", Target: c.ID, Outcome: Failed, Detail: err.Error()})
			return r
		}
	}
	if plan.Close != nil {
		defer plan.Close()
	}
	var checks []Check
	if !plan.Local {
		checks = append(checks, ck.reachChecks(c, plan.Reach)...)
	}
	checks = append(checks, plan.Checks...)
	if kc, ok := ck.kerberosCheck(c); ok {
		checks = append(checks, kc)
	}
	r.Steps = ck.run(ctx, checks)
	return r
}

// run runs checks in order, skipping those whose needs did not pass.
func (ck *Checker) run(ctx context.Context, checks []Check) []Step {
	steps := make([]Step, 0, len(checks))
	passed := map[string]bool{}
	for _, c := range checks {
		s := Step{Name: c.Name, Target: c.Target}
		if unmet := firstUnmet(c.Needs, passed); unmet != "" {
			s.Outcome, s.Detail = Skipped, fmt.Sprintf("because %s did not pass", unmet)
			steps = append(steps, s)
			continue
		}
		if c.Run == nil {
			s.Outcome, s.Detail = Skipped, c.Detail
			steps = append(steps, s)
			continue
		}
		s.Outcome, s.Detail, s.Duration = ck.runOne(ctx, c)
		passed[c.Name] = s.Outcome == OK
		steps = append(steps, s)
	}
	return steps
}

func firstUnmet(needs []string, passed map[string]bool) string {
	i := slices.IndexFunc(needs, func(n string) bool { return !passed[n] })
	if i < 0 {
		return ""
	}
	return needs[i]
}

// runOne runs one check under the step timeout. A check that ends with
// the timeout says so rather than "context deadline exceeded" alone.
func (ck *Checker) runOne(ctx context.Context, c Check) (Outcome, string, time.Duration) {
	timeout := ck.timeout()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	detail, err := c.Run(sctx)
	took := time.Since(start)
	switch {
	case err == nil:
		return OK, detail, took
	case sctx.Err() != nil && ctx.Err() == nil:
		return Failed, fmt.Sprintf("no answer within %s: %v", timeout, err), took
	default:
		return Failed, err.Error(), took
	}
}
