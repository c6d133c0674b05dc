package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/airflowimport"
	"github.com/sirocco-dev/sirocco/internal/engine"
)

// dagsImportAirflow converts Airflow Python DAG files to Sirocco YAML.
func (a *app) dagsImportAirflow() *cobra.Command {
	var out, python string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "import-airflow FILE.py|DIR... --out DIR",
		Short: "Convert Airflow Python DAG files to Sirocco YAML (runs them with python3 and a stand-in for Airflow)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := airflowimport.Options{Python: python, Out: out, Timeout: timeout, Report: a.stdout,
				Load: engine.NewBag(out, a.operators.Specs()).LoadOptions()}
			res, err := airflowimport.Import(ctx, args, opts)
			if err != nil && ctx.Err() != nil {
				fmt.Fprintln(a.stderr, "import-airflow: interrupted; the shim's temporary folder is removed")
				return exitCode(130)
			}
			if err != nil {
				return err
			}
			dags := 0
			for _, f := range res.Files {
				dags += len(f.DAGs)
			}
			fmt.Fprintf(a.stdout, "%d DAG(s) written to %s from %d file(s); %d file(s) failed\n", dags, out, len(res.Files), res.Failed())
			if res.Failed() > 0 {
				return exitCode(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder for the YAML files and their <dag_id>_callables.py modules (required)")
	cmd.Flags().StringVar(&python, "python", "python3", "Python interpreter (3.9 or later) that runs the DAG files")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time one file may take to define its DAGs")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
