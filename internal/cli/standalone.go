package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

func (a *app) standaloneCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "standalone",
		Short: "Run the scheduler, the local executor and the REST API in one process",
		Long: "Run everything in one process with the embedded SQLite database by default: the\n" +
			"DAGs folder is watched, scheduled runs are created, tasks run locally, and the REST API\n" +
			"(/api/v1, /health) answers on --listen. Beyond loopback the API needs api_token.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), listen, "standalone")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the REST API and /health; empty to disable")
	return cmd
}

func (a *app) schedulerCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler with its local executor (no UI)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), listen, "scheduler")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address of the health endpoint; empty to disable")
	return cmd
}

// serve runs the engine until SIGINT/SIGTERM; standalone also serves the
// REST API, the scheduler only /health.
func (a *app) serve(parent context.Context, listen, role string) error {
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
	if withAPI && listen != "" {
		if err := api.CheckListen(listen, cfg.APIToken); err != nil {
			return err
		}
	}
	log := a.logger(cfg)
	st, err := a.migrateStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	sealVariables(ctx, st, cfg, log)
	defer a.maskServiceLog(ctx, st, cfg, log)()
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: a.operators, Logger: log})
	if err != nil {
		return err
	}
	if listen != "" {
		opts := api.Options{Store: st, Config: cfg, Kick: eng.Loop.Kick, RunCreated: eng.Loop.RunCreated, SchedulerInProcess: true,
			Started: time.Now(), Logger: log, DAGs: bagDAGs(eng.Bag)}
		handler := api.HealthOnly(opts)
		if withAPI {
			if opts.Keys, err = loadKeys(cfg, log); err != nil {
				return err
			}
			handler = withUI(api.New(opts), ui.Options{Store: st, DAGs: opts.DAGs, Config: cfg, Logger: log, Stop: ctx.Done()})
		}
		closeHTTP, err := startHTTP(listen, handler, log)
		if err != nil {
			return err
		}
		defer closeHTTP()
		if withAPI {
			logAPIAuth(log, cfg)
		}
	}
	log.Info("sirocco started", "role", role, "dags_folder", cfg.DagsFolder, "dags", len(eng.Bag.DAGs()),
		"import_errors", len(eng.Bag.Errors()), "home", cfg.Home, "worker_id", eng.Runner.WorkerID)
	err = eng.Run(ctx)
	log.Info("sirocco stopped")
	return err
}

// withUI serves the REST API at /api/v1 and /health and the web UI at
// every other path, on one port.
func withUI(apiHandler http.Handler, o ui.Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", apiHandler)
	mux.Handle("/health", apiHandler)
	mux.Handle("/", ui.New(o))
	return mux
}

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

// startHTTP serves handler on listen in the background; the returned
// function stops it, letting requests in flight finish for a few seconds.
func startHTTP(listen string, handler http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("serving", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	}, nil
}

// logAPIAuth says how the API is protected, never the token itself.
func logAPIAuth(log *slog.Logger, cfg config.Config) {
	if cfg.APIToken != "" {
		log.Info("REST API requires a bearer token (api_token)")
		return
	}
	log.Info("REST API has no token: it answers loopback requests only (set api_token to open it)")
}
