// Command sirocco is the workflow orchestrator: `sirocco standalone` runs it
// all in one process; the other commands inspect and steer it.
package main

import (
	"os"

	"github.com/sirocco-dev/sirocco/internal/cli"
)

func main() {
	os.Exit(cli.Execute())
}
