package engine

import (
	"context"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/notify"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
)

// newOutbox builds the delivery of callbacks: notify's Sender with the
// engine's connections and variables, commands run in a minimal
// environment (PATH, SIROCCO_HOME) from the Sirocco home.
func (e *Engine) newOutbox(o Options, workerID string) *scheduler.Outbox {
	conns := e.Runner.Connections
	vars := &connection.Variables{Store: e.Store, Keys: conns.Keys}
	sender := &notify.Sender{
		Connections: conns.Get,
		Variables: func(ctx context.Context, key string) (string, error) {
			v, err := vars.Get(ctx, key)
			return v.Value, err
		},
		Env: append(append([]string(nil), notify.DefaultEnv...), "SIROCCO_HOME="+e.Config.Home),
		Dir: e.Config.Home,
	}
	return scheduler.NewOutbox(scheduler.OutboxOptions{
		Store: e.Store, DAGs: e.Bag, Sender: sender, Clock: o.Clock, Logger: e.Logger,
		WorkerID: workerID, LogsDir: e.Config.LogsDir(),
		Backoff: o.NotifyBackoff,
	})
}
