package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/metrics"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func (a *app) standaloneCmd() *cobra.Command {
	f := &httpFlags{defaultListen: "127.0.0.1:8080", listenHelpSuffix: "; empty to disable"}
	cmd := &cobra.Command{
		Use:   "standalone",
		Short: "Run the scheduler, the local executor and the REST API in one process",
		Long: "Run everything in one process with the embedded SQLite database by default: the\n" +
			"DAGs folder is watched, scheduled runs are created, tasks run locally, and the REST API\n" +
			"(/api/v1, /health) and the login page answer on --listen. The first start creates the\n" +
			"user admin and prints its password once. Beyond loopback it needs --tls-cert/--tls-key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), f, "standalone")
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) schedulerCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler with its local executor (no UI)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), &httpFlags{listen: listen}, "scheduler")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address of the health endpoint; empty to disable")
	return cmd
}

// serve runs the engine until SIGINT/SIGTERM; standalone also serves the
// REST API, the scheduler only /health.
func (a *app) serve(parent context.Context, hf *httpFlags, role string) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	withAPI := role == "standalone"
	secure := false
	if withAPI && hf.listen != "" {
		// Standalone always has a user: the first start creates admin.
		if secure, err = hf.check(true); err != nil {
			return err
		}
	}
	log := a.logger(cfg)
	st, err := a.migrateStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if withAPI {
		password, err := (auth.Users{Store: st}).EnsureAdmin(ctx)
		if err != nil {
			return fmt.Errorf("create the first user: %w", err)
		}
		if password != "" {
			a.announceAdmin(password, hf)
		}
	}
	sealVariables(ctx, st, cfg, log)
	defer a.maskServiceLog(ctx, st, cfg, log)()
	var m *metrics.Metrics
	if hf.listen != "" {
		m = metrics.New()
		m.Store(st, metricsTimeout)
	}
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: a.operators, Logger: log, Metrics: m})
	if err != nil {
		return err
	}
	if hf.listen != "" {
		opts := api.Options{Store: st, Config: cfg, Kick: eng.Loop.Kick, RunCreated: eng.Loop.RunCreated, SchedulerInProcess: true,
			Started: time.Now(), Logger: log, DAGs: bagDAGs(eng.Bag), Metrics: m}
		handler := api.HealthOnly(opts)
		if withAPI {
			if opts.Keys, err = loadKeys(cfg, log); err != nil {
				return err
			}
			handler = siteHandler(st, cfg, log, opts, uiOptions(st, opts.DAGs, cfg, log, ctx.Done(), opts.Keys), secure)
		}
		closeHTTP, err := startHTTP(hf, handler, log)
		if err != nil {
			return err
		}
		defer closeHTTP()
		if withAPI {
			logAPIAuth(ctx, log, cfg, st)
		}
	}
	log.Info("sirocco started", "role", role, "dags_folder", cfg.DagsFolder, "dags", len(eng.Bag.DAGs()),
		"import_errors", len(eng.Bag.Errors()), "home", cfg.Home, "worker_id", eng.Runner.WorkerID)
	err = eng.Run(ctx)
	log.Info("sirocco stopped")
	return err
}

// metricsTimeout bounds a scrape's reads of the store: a locked database
// must not hang Prometheus.
const metricsTimeout = 5 * time.Second

// bagDAGs is the API's view of a DAG bag: what is loaded now.
func bagDAGs(b *engine.Bag) func() (map[string]*dag.DAG, map[string]error) {
	return func() (map[string]*dag.DAG, map[string]error) { return b.DAGs(), b.Errors() }
}

// loadKeys loads the key that decrypts stored connections, which the API
// lists redacted.
func loadKeys(cfg config.Config, log *slog.Logger) (*connection.Keyring, error) {
	keys, generated, err := connection.LoadKeyring(cfg.Home)
	if err != nil {
		return nil, fmt.Errorf("load the secret key: %w", err)
	}
	if generated {
		log.Info("generated a secret key for connection passwords", "file", keys.Source())
	}
	return keys, nil
}

// sealVariables encrypts the variables an older Sirocco stored in clear
// (and re-encrypts those under an old key), so a database upgraded by
// start-up migrations holds no variable in clear. A failure is logged, not
// fatal: the rows stay readable, and `connections rotate-key` says why.
func sealVariables(ctx context.Context, st store.Store, cfg config.Config, log *slog.Logger) {
	keys, err := loadKeys(cfg, log)
	if err == nil {
		var res connection.RotateResult
		res, err = (&connection.Variables{Store: st, Keys: keys}).SealAll(ctx)
		if res.Reencrypted > 0 {
			log.Info("encrypted stored variables with the current secret key", "count", res.Reencrypted, "of", res.Total)
		}
	}
	if err != nil {
		log.Warn("stored variables not (re-)encrypted; run `sirocco connections rotate-key`", "err", err)
	}
}

// secretsRefresh is how often the service log's secrets are read again,
// so a variable or connection added meanwhile is masked too.
const secretsRefresh = 30 * time.Second

// maskServiceLog makes the service log mask every secret the store and the
// environment hold (sensitive variables, connection secrets), read now and
// every secretsRefresh until ctx ends. The returned function stops the
// reader and waits for it.
func (a *app) maskServiceLog(ctx context.Context, st store.Store, cfg config.Config, log *slog.Logger) func() {
	keys, err := loadKeys(cfg, log)
	if err != nil {
		log.Warn("service log: secrets not masked", "err", err)
		return func() {}
	}
	load := func() {
		list, err := connection.KnownSecrets(ctx, st, keys, nil)
		if err != nil && ctx.Err() == nil {
			log.Warn("service log: cannot read the secrets to mask", "err", err)
		}
		for _, s := range list {
			a.secrets.Add(s)
		}
	}
	load()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(secretsRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				load()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
