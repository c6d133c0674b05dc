package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestStopWhileStartingClosesTheSSHPool: an engine stopped while it
// starts (SIGTERM right after the start) returns cleanly and closes its
// SSH pool, so no connection to an SSH host (one a recovery of a gone
// worker's ssh job opened, say) stays open after Run.
func TestStopWhileStartingClosesTheSSHPool(t *testing.T) {
	srv := testenv.SSHD(t)
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Home, cfg.DagsFolder = dir, filepath.Join(dir, "dags")
	if err := os.MkdirAll(cfg.DagsFolder, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "sirocco.db")
	st, err := sqlstore.Open(t.Context(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	eng, err := New(t.Context(), Options{Config: cfg, Store: st, Operators: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	conn := connection.Connection{ID: "edge", Type: "ssh", Host: srv.Host, Port: srv.Port, Login: srv.User,
		Extra: map[string]string{"known_hosts": srv.KnownHostsFile, "key_file": srv.KeyFile}}
	s, err := sshclient.FromConnection(conn, sshclient.Env{Home: t.TempDir(), User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := eng.Runner.SSH.Run(t.Context(), s, "true", nil, nil); err != nil || code != 0 {
		t.Fatalf("ssh true: %d, %v", code, err)
	}
	if open := eng.Runner.SSH.Stats().Open; open != 1 {
		t.Fatalf("%d pooled connections before the start, want 1", open)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // stopped before the start could finish
	if err := eng.Run(ctx); err != nil {
		t.Fatalf("Run stopped while starting = %v, want nil", err)
	}
	if open := eng.Runner.SSH.Stats().Open; open != 0 {
		t.Errorf("%d pooled SSH connections left open after Run", open)
	}
	if _, err := eng.Runner.SSH.Run(t.Context(), s, "true", nil, nil); !errors.Is(err, sshclient.ErrPoolClosed) {
		t.Errorf("the pool after Run: %v, want ErrPoolClosed", err)
	}
}
