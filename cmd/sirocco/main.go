// Command sirocco is the workflow orchestrator: `sirocco standalone` runs it
// all in one process; the other commands inspect and steer it.
package main

import (
	"os"
	_ "time/tzdata" // DAG timezones work even where /usr/share/zoneinfo is missing

	"github.com/sirocco-dev/sirocco/internal/cli"
)

func main() {
	os.Exit(cli.Execute())
}
