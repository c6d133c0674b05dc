package cli

import (
	"context"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/metrics"
)

func (a *app) apiServerCmd() *cobra.Command {
	f := &httpFlags{defaultListen: "127.0.0.1:8080"}
	cmd := &cobra.Command{
		Use:   "api-server",
		Short: "Serve the REST API (/api/v1) without a scheduler",
		Long: "Serve the REST API and the login page over the configured database and DAGs folder, which\n" +
			"is re-read every dag_dir_list_interval. Runs it creates are run by a scheduler (sirocco\n" +
			"scheduler) sharing the database. Beyond loopback it needs a user (or api_token) and\n" +
			"--tls-cert/--tls-key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serveAPI(cmd.Context(), f)
		},
	}
	f.register(cmd)
	return cmd
}

// serveAPI serves the API until SIGINT/SIGTERM. The DAGs folder is
// reloaded in the background, as the engine's watcher does, but nothing is
// written back: recording DAGs and import errors is the scheduler's job.
func (a *app) serveAPI(parent context.Context, hf *httpFlags) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	log := a.logger(cfg)
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.HasUsers(ctx)
	if err != nil {
		return err
	}
	secure, err := hf.check(users || cfg.APIToken != "")
	if err != nil {
		return err
	}
	defer a.maskServiceLog(ctx, st, cfg, log)()
	bag := engine.NewBag(cfg.DagsFolder, a.operators.Specs())
	if err := bag.Reload(); err != nil {
		return err
	}
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	m := metrics.New()
	m.Store(st, metricsTimeout)
	opts := api.Options{Store: st, Config: cfg, Keys: keys, DAGs: bagDAGs(bag), Started: time.Now(), Logger: log, Metrics: m}
	site := siteHandler(st, cfg, log, opts, uiOptions(st, bagDAGs(bag), cfg, log, ctx.Done(), keys), secure)
	closeHTTP, err := startHTTP(hf, site, log)
	if err != nil {
		return err
	}
	defer closeHTTP()
	logAPIAuth(ctx, log, cfg, st)
	log.Info("sirocco started", "role", "api-server", "dags_folder", cfg.DagsFolder, "dags", len(bag.DAGs()),
		"import_errors", len(bag.Errors()), "home", cfg.Home)
	bag.Watch(ctx, nil, cfg.DagRescan, log)
	log.Info("sirocco stopped")
	return nil
}
