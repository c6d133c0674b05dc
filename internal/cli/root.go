// Package cli is Sirocco's command line: one file per command group, named
// after Airflow's CLI. Commands parse flags, call the engine or the store,
// and print; there is no business logic here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/engine"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// app carries what every command needs; it is built once per invocation.
type app struct {
	flags     map[string]*string // config overrides set on the command line
	output    string
	stdout    io.Writer
	stderr    io.Writer
	operators operator.Registry
	// secrets are masked in the service log (logger); serve and the API
	// server fill it with the secrets the store and environment hold.
	secrets *tasklog.Secrets
}

// configFlags are the settings any command may override with a flag.
var configFlags = []struct{ name, key, help string }{
	{"home", "home", "Sirocco home (SIROCCO_HOME)"},
	{"dags", "dags_folder", "DAGs folder (SIROCCO_DAGS_FOLDER)"},
	{"database-url", "database_url", "database URL (SIROCCO_DATABASE_URL)"},
	{"parallelism", "parallelism", "tasks run at once by the local executor (SIROCCO_PARALLELISM)"},
	{"poll-interval", "poll_interval", "scheduler poll interval (SIROCCO_POLL_INTERVAL)"},
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	a := &app{flags: map[string]*string{}, stdout: stdout, stderr: stderr, operators: all.Registry(), secrets: &tasklog.Secrets{}}
	root := &cobra.Command{
		Use:           "sirocco",
		Short:         "Sirocco schedules DAGs of tasks and runs them where they belong.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	for _, f := range configFlags {
		a.flags[f.key] = pf.String(f.name, "", f.help)
	}
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	root.AddCommand(
		a.standaloneCmd(), a.schedulerCmd(), a.apiServerCmd(), a.dagsCmd(), a.tasksCmd(), a.dbCmd(),
		a.poolsCmd(), a.variablesCmd(), a.configCmd(), a.connectionsCmd(), a.kerberosCmd(), a.usersCmd(),
		a.assetsCmd(),
	)
	withUsageOnArgs(root)
	return root
}

// withUsageOnArgs makes a wrong number of arguments name the arguments a
// command takes: cobra's own error ("accepts 4 arg(s), received 3") does
// not say which one is missing, and usage is silenced for other errors.
func withUsageOnArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		withUsageOnArgs(sub)
	}
	check := c.Args
	if check == nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w; usage: %s", err, cmd.UseLine())
		}
		return nil
	}
}

// Execute runs the CLI and returns the process exit code.
func Execute() int {
	stdout := &pipeWatch{w: os.Stdout}
	root := NewRoot(stdout, os.Stderr)
	if err := root.Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			return int(code) // the command has already said why
		}
		if stdout.broken.Load() {
			// The reader went away (`| head`): nothing is wrong, and
			// nothing would read the message; end as a killed writer.
			return 141
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	return 0
}

// pipeWatch is stdout, noting a write that failed because its reader is
// gone (EPIPE: SIGPIPE is caught, see main): encoders such as YAML's
// report that error as text only, which errors.Is cannot recognise.
type pipeWatch struct {
	w      io.Writer
	broken atomic.Bool
}

func (p *pipeWatch) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.broken.Store(true)
	}
	return n, err
}

// exitCode ends the process with a status after output was already printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func (a *app) config() (config.Config, error) {
	set := map[string]string{}
	for key, v := range a.flags {
		if v != nil && *v != "" {
			set[key] = *v
		}
	}
	cfg, err := config.Load(set)
	if err != nil {
		return cfg, err
	}
	return cfg, exportKerberos(cfg)
}

func (a *app) logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	return slog.New(tasklog.NewMaskingHandler(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}), a.secrets))
}

// openStore opens the configured database and checks that its schema is
// current, saying "run sirocco db migrate" when it is not: only db migrate
// and the services that own the database (standalone, scheduler) change
// the schema, never a read-only command typed beside a running scheduler.
func (a *app) openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	return a.openDatabase(ctx, cfg, false)
}

// migrateStore opens the configured database and migrates it.
func (a *app) migrateStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	return a.openDatabase(ctx, cfg, true)
}

func (a *app) openDatabase(ctx context.Context, cfg config.Config, migrate bool) (store.Store, error) {
	if err := noDatabase(cfg, migrate); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Home, 0o755); err != nil {
		return nil, fmt.Errorf("create home %s: %w", cfg.Home, err)
	}
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", config.RedactURL(cfg.DatabaseURL), err)
	}
	if migrate {
		err = st.Migrate(ctx)
	} else {
		err = st.CheckSchema(ctx)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("database %s: %w", config.RedactURL(cfg.DatabaseURL), err)
	}
	return st, nil
}

// noDatabase refuses to open a SQLite file that does not exist for a
// command that does not migrate: opening would create an empty database
// (and its home), and "run sirocco db migrate" would then lead a user who
// only forgot SIROCCO_HOME in a second terminal to a second, empty
// database beside the scheduler's.
func noDatabase(cfg config.Config, migrate bool) error {
	file, ok := sqlstore.SQLiteFile(cfg.DatabaseURL)
	if migrate || !ok {
		return nil
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("no Sirocco database at %s (home %s): point --home or SIROCCO_HOME at the home "+
		"your scheduler uses, or make one here: run `sirocco db migrate` (standalone and scheduler also do)", file, cfg.Home)
}

// env bundles config, store and DAG bag for commands that need all three.
type env struct {
	cfg config.Config
	st  store.Store
	bag *engine.Bag
	log *slog.Logger
}

func (a *app) open(ctx context.Context) (*env, error) {
	e, err := a.openUnloaded(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.bag.Reload(); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// openUnloaded is open with the DAG bag still empty: the caller loads
// what it needs (openDAG).
func (a *app) openUnloaded(ctx context.Context) (*env, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	bag := engine.NewBag(cfg.DagsFolder, a.operators.Specs())
	return &env{cfg: cfg, st: st, bag: bag, log: a.logger(cfg)}, nil
}

func (e *env) close() { e.st.Close() }
