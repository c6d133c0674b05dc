package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/kerberos"
)

// kerberosFlags are the kerberos settings `sirocco kerberos` takes as
// flags; the principal may also be its argument, as in Airflow.
var kerberosFlags = []struct{ name, key, help string }{
	{"keytab", "kerberos.keytab", "keytab file (SIROCCO_KERBEROS_KEYTAB)"},
	{"ccache", "kerberos.ccache", "ticket cache to keep fresh (SIROCCO_KERBEROS_CCACHE; default $SIROCCO_HOME/krb5cc)"},
	{"reinit-frequency", "kerberos.reinit_frequency", "time between renewals, e.g. 1h (SIROCCO_KERBEROS_REINIT_FREQUENCY)"},
	{"kinit-path", "kerberos.kinit_path", "MIT kinit program (SIROCCO_KERBEROS_KINIT_PATH)"},
}

func (a *app) kerberosCmd() *cobra.Command {
	var oneTime bool
	cmd := &cobra.Command{
		Use:   "kerberos [PRINCIPAL]",
		Short: "Keep a Kerberos ticket cache fresh from a keytab (as airflow kerberos)",
		Long: "Run MIT kinit with the keytab into the ticket cache now and every reinit_frequency, logging\n" +
			"each new ticket's expiry, until SIGINT/SIGTERM. Every Sirocco command run with the same\n" +
			"kerberos settings gives its tasks KRB5CCNAME naming this cache. --one-time gets one ticket\n" +
			"and exits. A wrong principal or keytab exits non-zero with kinit's message.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			principal := ""
			if len(args) == 1 {
				principal = args[0]
			}
			a.flags["kerberos.principal"] = &principal
			return a.runKerberos(cmd, oneTime)
		},
	}
	for _, f := range kerberosFlags {
		a.flags[f.key] = cmd.Flags().String(f.name, "", f.help)
	}
	cmd.Flags().BoolVar(&oneTime, "one-time", false, "get one ticket and exit")
	return cmd
}

func (a *app) runKerberos(cmd *cobra.Command, oneTime bool) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	log := a.logger(cfg)
	r := &kerberos.Renewer{Principal: cfg.Kerberos.Principal, Keytab: cfg.Kerberos.Keytab, CCache: cfg.Kerberos.CCache,
		Interval: cfg.Kerberos.ReinitFrequency, Kinit: cfg.Kerberos.KinitPath, Logger: log}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if oneTime {
		t, err := r.Renew(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "ticket for %s in %s, expires %s\n", t.Principal, cfg.Kerberos.CCache, t.Expires.Format(time.RFC3339))
		return nil
	}
	log.Info("kerberos ticket renewer started", "principal", cfg.Kerberos.Principal, "keytab", cfg.Kerberos.Keytab,
		"ccache", cfg.Kerberos.CCache, "reinit_frequency", cfg.Kerberos.ReinitFrequency)
	if err := r.Run(ctx); err != nil {
		return err
	}
	log.Info("kerberos ticket renewer stopped")
	return nil
}

// exportKerberos gives the tasks this process runs the ticket cache that
// `sirocco kerberos` keeps fresh, as Airflow's CLI sets KRB5CCNAME at
// start when security = kerberos: the variable is in the allow-list of
// what tasks inherit (process.Inherited). It overrides a KRB5CCNAME
// Sirocco was started with, since the configured cache is the one renewed.
func exportKerberos(cfg config.Config) error {
	if !cfg.Kerberos.Enabled() {
		return nil
	}
	if err := os.Setenv("KRB5CCNAME", cfg.Kerberos.CCache); err != nil {
		return fmt.Errorf("set KRB5CCNAME: %w", err)
	}
	return nil
}
