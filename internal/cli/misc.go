package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

func (a *app) dbCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Manage the metadata database"}
	cmd.AddCommand(&cobra.Command{
		Use: "migrate", Short: "Create or upgrade the schema (also done at start-up)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			st, err := a.migrateStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := a.loadKeyring(cfg)
			if err != nil {
				return err
			}
			res, err := (&connection.Variables{Store: st, Keys: keys}).SealAll(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Database %s (%s) is up to date; %d of %d variable(s) newly encrypted\n",
				config.RedactURL(cfg.DatabaseURL), st.Dialect(), res.Reencrypted, res.Total)
			return nil
		},
	})
	return cmd
}

func (a *app) poolsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pools", Short: "Limit concurrency of groups of tasks"}
	cmd.AddCommand(&cobra.Command{
		Use: "set NAME SLOTS [DESCRIPTION]", Short: "Create or resize a pool", Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			slots, err := strconv.Atoi(args[1])
			if err != nil || slots < 0 {
				return fmt.Errorf("slots must be a non-negative integer, got %q", args[1])
			}
			p := store.Pool{Name: args[0], Slots: slots}
			if len(args) == 3 {
				p.Description = args[2]
			}
			return a.withStore(cmd, func(st store.Store) error {
				if err := st.SetPool(cmd.Context(), p); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Pool %s set to %d slot(s)\n", p.Name, p.Slots)
				return nil
			})
		},
	}, &cobra.Command{
		Use: "list", Short: "List pools", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(st store.Store) error {
				pools, err := st.ListPools(cmd.Context())
				if err != nil {
					return err
				}
				t := &table{headers: []string{"pool", "slots", "description"}}
				for _, p := range pools {
					t.add(map[string]any{"pool": p.Name, "slots": p.Slots, "description": p.Description})
				}
				return a.print(t)
			})
		},
	})
	return cmd
}

func (a *app) variablesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "variables", Short: "Key/values that templates read as var.value.KEY (stored encrypted)"}
	cmd.AddCommand(&cobra.Command{
		Use: "set KEY VALUE", Short: "Set a variable (its value is encrypted with the secret key)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withVariables(cmd, func(vars *connection.Variables) error {
				if err := vars.Set(cmd.Context(), store.Variable{Key: args[0], Value: args[1]}); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Variable %s set\n", args[0])
				return nil
			})
		},
	}, &cobra.Command{
		Use: "get KEY", Short: "Print a variable's value (SIROCCO_VAR_<KEY> first, as tasks see it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withVariables(cmd, func(vars *connection.Variables) error {
				v, err := vars.Get(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("variable %s: %w", args[0], err)
				}
				fmt.Fprintln(a.stdout, v.Value)
				return nil
			})
		},
	}, &cobra.Command{
		Use: "list", Short: "List stored variables; values of sensitive keys (password, token, ...) show as ***", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withVariables(cmd, func(vars *connection.Variables) error {
				list, err := vars.List(cmd.Context())
				if err != nil {
					return err
				}
				t := &table{headers: []string{"key", "value"}}
				for _, v := range list {
					t.add(map[string]any{"key": v.Key, "value": displayValue(v), "description": v.Description})
				}
				return a.print(t)
			})
		},
	}, &cobra.Command{
		Use: "delete KEY", Short: "Delete a variable", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(st store.Store) error {
				return st.DeleteVariable(cmd.Context(), args[0])
			})
		},
	})
	return cmd
}

// displayValue is a variable's value for listings: *** when its key looks
// sensitive, as Airflow's UI shows it.
func displayValue(v store.Variable) string {
	if connection.IsSensitive(v.Key) && v.Value != "" {
		return connection.Mask
	}
	return v.Value
}

// withVariables runs f with the variables of the configured store and the
// secret key that seals them.
func (a *app) withVariables(cmd *cobra.Command, f func(*connection.Variables) error) error {
	return a.withSealed(cmd, func(st store.Store, keys *connection.Keyring) error {
		return f(&connection.Variables{Store: st, Keys: keys})
	})
}

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show the effective configuration"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List every setting, its environment variable and effective value", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			t := &table{headers: []string{"key", "value", "env"}}
			for _, e := range cfg.Entries() {
				t.add(map[string]any{"key": e.Key, "value": e.Value, "env": e.Env, "help": e.Help})
			}
			return a.print(t)
		},
	})
	return cmd
}

func (a *app) withStore(cmd *cobra.Command, f func(store.Store) error) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	st, err := a.openStore(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}
