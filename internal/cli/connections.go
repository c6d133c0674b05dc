package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// maxStdinSecret bounds what --conn-password - and friends read.
const maxStdinSecret = 1 << 20

func (a *app) connectionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "Manage connections to other systems (Airflow's connections)",
		Long: `Connections hold what operators need to reach other systems: type, host, port, login,
password, schema and extras. They come from SIROCCO_CONN_<ID> environment variables (a URI
or a JSON object; these win) or from the database, where passwords and extras are encrypted
with AES-256-GCM under SIROCCO_SECRET_KEY or $SIROCCO_HOME/secret.key (created on first use).
Output never shows a password or a secret-looking extra: they print as ***.`,
	}
	cmd.AddCommand(a.connectionsAdd(), a.connectionsList(), a.connectionsGet(), a.connectionsDelete(),
		a.connectionsTest(), a.connectionsImport(), a.connectionsExport(), a.connectionsRotateKey())
	return cmd
}

// withConnections runs f with a resolver over the configured store and the
// secret key, telling the user when a new key file had to be generated.
// loadKeyring loads the secret key that seals connections and variables,
// saying so when it had to generate one.
func (a *app) loadKeyring(cfg config.Config) (*connection.Keyring, error) {
	keys, generated, err := connection.LoadKeyring(cfg.Home)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if generated {
		fmt.Fprintf(a.stderr, "Generated a new secret key: %s. Back it up: stored connection secrets and variables cannot be read without it.\n",
			keys.Source())
	}
	return keys, nil
}

func (a *app) withConnections(cmd *cobra.Command, f func(r *connection.Resolver) error) error {
	return a.withSealed(cmd, func(st store.Store, keys *connection.Keyring) error {
		return f(&connection.Resolver{Store: st, Keys: keys})
	})
}

// withSealed runs f with the configured store and the secret key that
// seals its connections and variables.
func (a *app) withSealed(cmd *cobra.Command, f func(store.Store, *connection.Keyring) error) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	keys, err := a.loadKeyring(cfg)
	if err != nil {
		return err
	}
	return a.withStore(cmd, func(st store.Store) error { return f(st, keys) })
}

// addFlags are the flags of `connections add`, Airflow's names.
type addFlags struct {
	uri, json, typ, host, login, password, schema, extra, description string
	port                                                              int
}

func (a *app) connectionsAdd() *cobra.Command {
	var f addFlags
	cmd := &cobra.Command{
		Use:   "add ID (--conn-uri URI | --conn-json JSON | --conn-type TYPE [--conn-host ...])",
		Short: "Add a connection",
		Long: `Add a connection, from a URI (as Airflow's: spark://127.0.0.1:7077?deploy_mode=cluster,
ssh://user@edge:22?key_file=/home/me/.ssh/id_ed25519), from Airflow's JSON form, or from
separate fields. An existing id is an error.

Anything on a command line shows up in ps and in shell history. Give "-" as the value of
--conn-password (or --conn-uri, --conn-json) to read it from standard input instead:

  printf '%s' "$PASSWORD" | sirocco connections add edge --conn-uri ssh://spark@edge:22 --conn-password -

With --conn-uri or --conn-json, --conn-password replaces the password, --conn-extra is merged
over the extras and --conn-description sets the description.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connection(cmd, args[0])
			if err != nil {
				return err
			}
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				err := r.Add(cmd.Context(), c)
				if errors.Is(err, store.ErrExists) {
					return fmt.Errorf("a connection with conn_id %q already exists: delete it first, or use `connections import --overwrite`", c.ID)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Successfully added conn_id=%s : %s\n", c.ID, c.Redacted().URI())
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.uri, "conn-uri", "", `connection URI ("-" reads it from standard input)`)
	fl.StringVar(&f.json, "conn-json", "", `connection as Airflow's JSON object ("-" reads it from standard input)`)
	fl.StringVar(&f.typ, "conn-type", "", "connection type: spark, ssh, http, postgres, ...")
	fl.StringVar(&f.host, "conn-host", "", "host")
	fl.IntVar(&f.port, "conn-port", 0, "port")
	fl.StringVar(&f.login, "conn-login", "", "login")
	fl.StringVar(&f.password, "conn-password", "", `password; "-" reads it from standard input (a value here shows up in ps)`)
	fl.StringVar(&f.schema, "conn-schema", "", "schema (the database, for a database)")
	fl.StringVar(&f.extra, "conn-extra", "", `extras as a JSON object, e.g. '{"deploy_mode": "cluster"}'`)
	fl.StringVar(&f.description, "conn-description", "", "description")
	return cmd
}

// connection builds the connection the flags describe.
func (f *addFlags) connection(cmd *cobra.Command, id string) (connection.Connection, error) {
	fl := cmd.Flags()
	var sources []string
	for _, name := range []string{"conn-uri", "conn-json", "conn-type"} {
		if fl.Changed(name) {
			sources = append(sources, "--"+name)
		}
	}
	if len(sources) != 1 {
		return connection.Connection{}, fmt.Errorf("give exactly one of --conn-uri, --conn-json or --conn-type (got %d)", len(sources))
	}
	var stdin []string
	for _, name := range []string{"conn-uri", "conn-json", "conn-password"} {
		if fl.Changed(name) && fl.Lookup(name).Value.String() == "-" {
			stdin = append(stdin, "--"+name)
		}
	}
	if len(stdin) > 1 {
		return connection.Connection{}, fmt.Errorf("only one flag can read standard input, got %s", strings.Join(stdin, " and "))
	}
	read := func(value, what string) (string, error) {
		if value != "-" {
			return value, nil
		}
		return readStdin(cmd, what)
	}

	var c connection.Connection
	var err error
	switch sources[0] {
	case "--conn-uri", "--conn-json":
		for _, name := range []string{"conn-type", "conn-host", "conn-port", "conn-login", "conn-schema"} {
			if fl.Changed(name) {
				return connection.Connection{}, fmt.Errorf("--%s cannot be combined with %s: put it there", name, sources[0])
			}
		}
		if sources[0] == "--conn-uri" {
			uri, err := read(f.uri, "URI")
			if err != nil {
				return connection.Connection{}, err
			}
			if c, err = connection.Parse(uri); err != nil {
				return connection.Connection{}, err
			}
			c.ID = id
		} else {
			js, err := read(f.json, "JSON")
			if err != nil {
				return connection.Connection{}, err
			}
			if c, err = connection.FromJSON(id, []byte(js)); err != nil {
				return connection.Connection{}, err
			}
		}
	default:
		c = connection.Connection{ID: id, Type: connection.NormalizeType(f.typ), Host: f.host, Port: f.port,
			Login: f.login, Schema: f.schema}
	}
	if fl.Changed("conn-password") {
		if c.Password, err = read(f.password, "password"); err != nil {
			return connection.Connection{}, err
		}
	}
	if fl.Changed("conn-extra") {
		extra, err := connection.ParseExtra(f.extra)
		if err != nil {
			return connection.Connection{}, fmt.Errorf("--conn-extra: %w", err)
		}
		if len(extra) > 0 && c.Extra == nil {
			c.Extra = map[string]string{}
		}
		maps.Copy(c.Extra, extra)
	}
	if fl.Changed("conn-description") {
		c.Description = f.description
	}
	return c, c.Validate()
}

// readStdin reads one value from standard input: everything up to EOF
// minus one trailing newline, or, from a terminal, one line after a prompt.
func readStdin(cmd *cobra.Command, what string) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s (one line; the terminal shows what you type, pipe it to avoid that): ", what)
			line, err := bufio.NewReader(f).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("read %s from the terminal: %w", what, err)
			}
			return strings.TrimRight(line, "\r\n"), nil
		}
	}
	data, err := io.ReadAll(io.LimitReader(in, maxStdinSecret+1))
	if err != nil {
		return "", fmt.Errorf("read %s from standard input: %w", what, err)
	}
	if len(data) > maxStdinSecret {
		return "", fmt.Errorf("read %s from standard input: more than %d bytes", what, maxStdinSecret)
	}
	s := strings.TrimSuffix(string(data), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// connHeaders are the table columns of list and get.
var connHeaders = []string{"conn_id", "conn_type", "host", "port", "login", "password", "schema", "extra", "source"}

// addConnRow adds e, redacted, to t: extras as compact JSON in the table,
// as an object in json and yaml.
func addConnRow(t *table, e connection.Entry) {
	c := e.Redacted()
	extra := c.Extra
	if extra == nil {
		extra = map[string]string{}
	}
	source := string(e.Source)
	if e.Shadowed {
		source += " (overridden by env)"
	}
	rec := map[string]any{
		"conn_id": c.ID, "conn_type": c.Type, "host": c.Host, "port": c.Port, "login": c.Login,
		"password": c.Password, "schema": c.Schema, "extra": extra, "description": c.Description,
		"source": source, "uri": c.URI(),
	}
	row := make([]string, len(t.headers))
	for i, h := range t.headers {
		switch {
		case h == "extra":
			if len(c.Extra) > 0 {
				b, _ := json.Marshal(c.Extra) // a map of strings always encodes
				row[i] = string(b)
			}
		case h == "port" && c.Port == 0:
		default:
			row[i] = cell(rec[h])
		}
	}
	t.rows = append(t.rows, row)
	t.records = append(t.records, rec)
}

func (a *app) connectionsList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List connections of the environment and the database (passwords shown as ***)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				entries, err := r.List(cmd.Context())
				if err != nil {
					return err
				}
				t := &table{headers: connHeaders}
				for _, e := range entries {
					addConnRow(t, e)
				}
				return a.print(t)
			})
		},
	}
}

func (a *app) connectionsGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show the connection a task would get (passwords shown as ***)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				e, err := r.Lookup(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				t := &table{headers: append(slices.Clone(connHeaders), "description")}
				addConnRow(t, e)
				return a.print(t)
			})
		},
	}
}

func (a *app) connectionsDelete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a connection from the database",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				if err := r.Delete(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Successfully deleted connection with conn_id=%s\n", args[0])
				return nil
			})
		},
	}
}

func (a *app) connectionsTest() *cobra.Command {
	var acceptHostKey bool
	cmd := &cobra.Command{
		Use:   "test ID [--accept-host-key]",
		Short: "Check a connection step by step (DNS, TCP, then its type's own steps) and report each",
		Long: `Resolve the connection as a task would (environment first, then database) and check it step
by step, each with its time and outcome, stopping the steps that need one that failed:

  dns, tcp          resolve the host, open a TCP connection (the type's usual port when none)
  spark             the master's REST submission server answers and names its Spark version,
                    the master UI's /json answers (when set, or in cluster mode); local mode
                    has nothing to reach
  ssh               the server's SSH identification (through the bastion of a proxy_jump)
  kerberos          with principal and keytab extras: a ticket is obtained into a throwaway
                    cache (the user's own is never touched)

Each step gets 5s. Exits 0 when no step failed, 1 otherwise. -o json or -o yaml prints
the report for programs. --accept-host-key lets the SSH check trust and record a host key it has
not seen before, showing its fingerprint.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				e, err := r.Lookup(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				ck := &preflight.Checker{AcceptHostKey: acceptHostKey, Kinit: cfg.Kerberos.KinitPath,
					Lookup: r.Get}
				rep := ck.Check(cmd.Context(), e.Connection)
				rep.Source = string(e.Source)
				if err := a.printReport(rep); err != nil {
					return err
				}
				if !rep.OK() {
					return exitCode(1)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&acceptHostKey, "accept-host-key", false, "trust and record an SSH host key seen for the first time (shows its fingerprint)")
	return cmd
}

// printReport writes a preflight report in the chosen output format: its
// text for a table, its JSON document for json and yaml.
func (a *app) printReport(rep preflight.Report) error {
	switch a.output {
	case "table", "":
		return rep.WriteText(a.stdout)
	case "json", "yaml":
		b, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		if a.output == "yaml" {
			return yaml.NewEncoder(a.stdout).Encode(doc)
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	default:
		return fmt.Errorf("unknown output format %q (expected table, json or yaml)", a.output)
	}
}

func (a *app) connectionsImport() *cobra.Command {
	var format string
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import connections from a JSON, YAML or .env file",
		Long: `Import connections from a file, as Airflow's connections import: JSON or YAML mapping each
connection id to a URI or to an object of fields (conn_type, host, port, login, password,
schema, extra, description), or an .env file of ID=URI lines. "-" reads standard input
(with --file-format). Existing connections are skipped unless --overwrite.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			f, err := connection.FormatOf(path, format)
			if err != nil {
				return err
			}
			var data []byte
			if path == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(path)
			}
			if err != nil {
				return fmt.Errorf("read connections: %w", err)
			}
			conns, err := connection.DecodeFile(data, f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				imported := 0
				for _, c := range conns {
					if c.Password == connection.Mask {
						fmt.Fprintf(a.stderr, "Warning: connection %s has the password %q: was the file exported without --include-secrets?\n",
							c.ID, connection.Mask)
					}
					if overwrite {
						err = r.Set(cmd.Context(), c)
					} else {
						err = r.Add(cmd.Context(), c)
					}
					if errors.Is(err, store.ErrExists) {
						fmt.Fprintf(a.stderr, "Could not import connection %s: connection already exists (use --overwrite)\n", c.ID)
						continue
					}
					if err != nil {
						return err
					}
					imported++
					fmt.Fprintf(a.stdout, "Imported connection %s\n", c.ID)
				}
				fmt.Fprintf(a.stdout, "Imported %d of %d connection(s) from %s\n", imported, len(conns), path)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "file-format", "", "json, yaml or env (default: from the file's extension)")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace connections that already exist")
	return cmd
}

func (a *app) connectionsExport() *cobra.Command {
	var format string
	var includeSecrets bool
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Export the database's connections to a JSON, YAML or .env file (mode 0600)",
		Long: `Export the connections stored in the database (not those of SIROCCO_CONN_* variables), in the
format "connections import" reads. Passwords and secret-looking extras are written as ***
unless --include-secrets; the file is created with mode 0600 either way. "-" writes to
standard output (with --file-format).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			f, err := connection.FormatOf(path, format)
			if err != nil {
				return err
			}
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				entries, err := r.List(cmd.Context())
				if err != nil {
					return err
				}
				var conns []connection.Connection
				for _, e := range entries {
					if e.Source != connection.SourceStore {
						continue
					}
					if !includeSecrets {
						e.Connection = e.Redacted()
					}
					conns = append(conns, e.Connection)
				}
				data, err := connection.EncodeFile(conns, f)
				if err != nil {
					return err
				}
				if path == "-" {
					_, err := a.stdout.Write(data)
					return err
				}
				if err := writePrivateFile(path, data); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Exported %d connection(s) to %s\n", len(conns), path)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "file-format", "", "json, yaml or env (default: from the file's extension)")
	cmd.Flags().BoolVar(&includeSecrets, "include-secrets", false, "write passwords and secret extras in clear")
	return cmd
}

// writePrivateFile replaces path with data, readable by its owner only. The
// data goes to a 0600 temporary file renamed into place, so the secrets are
// never in a file others can read, even if path existed with a wider mode.
func writePrivateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func (a *app) connectionsRotateKey() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every stored connection and variable with the current secret key",
		Long: `Re-encrypt the passwords and extras of every stored connection, and every stored variable,
with the current key (variables still in clear from an older Sirocco are encrypted too). To
change the key:

  1. generate one:           head -c 32 /dev/urandom | base64
  2. on every process, make it current (SIROCCO_SECRET_KEY, or $SIROCCO_HOME/secret.key) and
     list the previous key in SIROCCO_SECRET_KEY_OLD (comma-separated if several);
  3. run:                    sirocco connections rotate-key
  4. remove the old key from SIROCCO_SECRET_KEY_OLD.

It is safe to run again, or while connections are being changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withConnections(cmd, func(r *connection.Resolver) error {
				res, err := r.RotateKey(cmd.Context())
				if err != nil {
					return err
				}
				vres, err := (&connection.Variables{Store: r.Store, Keys: r.Keys}).SealAll(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Re-encrypted %d of %d stored connection(s) and %d of %d variable(s) with key %s (%s)\n",
					res.Reencrypted, res.Total, vres.Reencrypted, vres.Total, r.Keys.CurrentID(), r.Keys.Source())
				return nil
			})
		},
	}
}
