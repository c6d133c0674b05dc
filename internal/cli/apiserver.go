package cli

import (
	"context"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

func (a *app) apiServerCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "api-server",
		Short: "Serve the REST API (/api/v1) without a scheduler",
		Long: "Serve the REST API over the configured database and DAGs folder, which is re-read every\n" +
			"dag_dir_list_interval. Runs it creates are run by a scheduler (sirocco scheduler) sharing\n" +
			"the database. Beyond loopback the API needs api_token (SIROCCO_API_TOKEN).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serveAPI(cmd.Context(), listen)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the REST API and /health")
	return cmd
}

// serveAPI serves the API until SIGINT/SIGTERM. The DAGs folder is
// reloaded in the background, as the engine's watcher does, but nothing is
// written back: recording DAGs and import errors is the scheduler's job.
func (a *app) serveAPI(parent context.Context, listen string) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if err := api.CheckListen(listen, cfg.APIToken); err != nil {
		return err
	}
	log := a.logger(cfg)
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	defer a.maskServiceLog(ctx, st, cfg, log)()
	bag := engine.NewBag(cfg.DagsFolder, a.operators.Specs())
	if err := bag.Reload(); err != nil {
		return err
	}
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	handler := withUI(api.New(api.Options{Store: st, Config: cfg, Keys: keys, DAGs: bagDAGs(bag), Started: time.Now(), Logger: log}),
		ui.Options{Store: st, DAGs: bagDAGs(bag), Config: cfg, Logger: log, Stop: ctx.Done()})
	closeHTTP, err := startHTTP(listen, handler, log)
	if err != nil {
		return err
	}
	defer closeHTTP()
	logAPIAuth(log, cfg)
	log.Info("sirocco started", "role", "api-server", "dags_folder", cfg.DagsFolder, "dags", len(bag.DAGs()),
		"import_errors", len(bag.Errors()), "home", cfg.Home)
	bag.Watch(ctx, nil, cfg.DagRescan, log)
	log.Info("sirocco stopped")
	return nil
}
