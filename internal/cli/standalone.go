package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func (a *app) standaloneCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "standalone",
		Short: "Run the scheduler, the local executor and the health endpoint in one process",
		Long: "Run everything in one process with the embedded SQLite database by default: the\n" +
			"DAGs folder is watched, scheduled runs are created, tasks run locally.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), listen, "standalone")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the HTTP endpoint (/health); empty to disable")
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

// serve runs the engine until SIGINT/SIGTERM.
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
	log := a.logger(cfg)
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := engine.New(ctx, engine.Options{Config: cfg, Store: st, Operators: a.operators, Logger: log})
	if err != nil {
		return err
	}
	started := time.Now()
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", listen, err)
		}
		srv := &http.Server{Handler: healthHandler(st, started), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", "err", err)
			}
		}()
		defer srv.Close()
		log.Info("serving", "addr", ln.Addr().String())
	}
	log.Info("sirocco started", "role", role, "dags_folder", cfg.DagsFolder, "dags", len(eng.Bag.DAGs()),
		"import_errors", len(eng.Bag.Errors()), "home", cfg.Home, "worker_id", eng.Runner.WorkerID)
	err = eng.Run(ctx)
	log.Info("sirocco stopped")
	return err
}

// healthHandler answers /health and /api/v1/health as Airflow does: the
// metadatabase's status and the scheduler's.
func healthHandler(st store.Store, started time.Time) http.Handler {
	h := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		db := "healthy"
		code := http.StatusOK
		if _, err := st.ListPools(ctx); err != nil {
			db, code = "unhealthy", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"metadatabase": map[string]string{"status": db},
			"scheduler":    map[string]any{"status": "healthy", "started_at": started.UTC().Format(time.RFC3339)},
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", h)
	mux.HandleFunc("GET /api/v1/health", h)
	return mux
}
