// Command sirocco is the workflow orchestrator: `sirocco standalone` runs it
// all in one process; the other commands inspect and steer it.
package main

import (
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // DAG timezones work even where /usr/share/zoneinfo is missing

	"github.com/sirocco-dev/sirocco/internal/cli"
)

func main() {
	// A closed terminal pipe (`sirocco standalone | tee log`, then Ctrl-C,
	// which also ends tee) must not kill Sirocco in the middle of its
	// shutdown: with SIGPIPE caught, writes to stdout and stderr fail with
	// EPIPE instead. Caught, not ignored, so that task processes still get
	// the default SIGPIPE (an ignored signal would be inherited).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	os.Exit(cli.Execute())
}
