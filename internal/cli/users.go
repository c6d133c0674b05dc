package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// usersCmd manages who may log in, as `airflow users`. Passwords never
// come from the command line (ps would show them): from stdin with
// --password-stdin, from a prompt on a terminal, or generated and shown
// once.
func (a *app) usersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage users (Airflow's roles: Viewer, User, Op, Admin) and their API tokens"}
	cmd.AddCommand(a.usersCreateCmd(), a.usersListCmd(), a.usersDeleteCmd(), a.usersResetPasswordCmd(), a.usersTokenCmd())
	return cmd
}

func (a *app) usersCreateCmd() *cobra.Command {
	var username, role string
	var stdin bool
	cmd := &cobra.Command{
		Use: "create --username NAME --role ROLE", Short: "Create a user", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			if err := auth.CheckUsername(username); err != nil {
				return err
			}
			password, generated, err := a.readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			return a.withStore(cmd, func(st store.Store) error {
				if err := (auth.Users{Store: st}).Create(cmd.Context(), username, r, password); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "User %s created with role %s\n", username, r)
				a.showGenerated(generated, password)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "the user's login name")
	cmd.Flags().StringVarP(&role, "role", "r", "", "Viewer, User, Op or Admin")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of stdin")
	_ = cmd.MarkFlagRequired("username")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func (a *app) usersListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List users (never their password hashes)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(st store.Store) error {
				users, err := st.ListUsers(cmd.Context())
				if err != nil {
					return err
				}
				t := &table{headers: []string{"username", "role", "created", "changed"}}
				for _, u := range users {
					t.add(map[string]any{"username": u.Username, "role": u.Role, "created": u.CreatedAt, "changed": u.UpdatedAt})
				}
				return a.print(t)
			})
		},
	}
}

func (a *app) usersDeleteCmd() *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use: "delete --username NAME", Short: "Delete a user, their sessions and tokens", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(st store.Store) error {
				if err := st.DeleteUser(cmd.Context(), username); err != nil {
					return fmt.Errorf("user %s: %w", username, err)
				}
				fmt.Fprintf(a.stdout, "User %s deleted\n", username)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "the user to delete")
	_ = cmd.MarkFlagRequired("username")
	return cmd
}

func (a *app) usersResetPasswordCmd() *cobra.Command {
	var username string
	var stdin bool
	cmd := &cobra.Command{
		Use: "reset-password --username NAME", Short: "Set a user's password and end their sessions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, generated, err := a.readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			return a.withStore(cmd, func(st store.Store) error {
				n, err := (auth.Users{Store: st}).ResetPassword(cmd.Context(), username, password)
				if err != nil {
					return fmt.Errorf("user %s: %w", username, err)
				}
				fmt.Fprintf(a.stdout, "Password of %s reset; %d session(s) and short-lived token(s) ended (API tokens stay: sirocco users token revoke)\n", username, n)
				a.showGenerated(generated, password)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "the user")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from the first line of stdin")
	_ = cmd.MarkFlagRequired("username")
	return cmd
}

// readPassword gets a new password: stdin's first line with
// --password-stdin, a prompt (twice) on a terminal, else a generated one
// (generated reports which).
func (a *app) readPassword(cmd *cobra.Command, fromStdin bool) (password string, generated bool, err error) {
	in := cmd.InOrStdin()
	if fromStdin {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", false, errors.New("--password-stdin: stdin holds no password")
		}
		return password, false, auth.CheckNewPassword(password)
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return auth.GeneratePassword(), true, nil
	}
	fmt.Fprint(a.stderr, "Password (empty to generate one): ")
	first, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", false, fmt.Errorf("read the password: %w", err)
	}
	if len(first) == 0 {
		return auth.GeneratePassword(), true, nil
	}
	fmt.Fprint(a.stderr, "Repeat it: ")
	second, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", false, fmt.Errorf("read the password: %w", err)
	}
	if string(first) != string(second) {
		return "", false, errors.New("the passwords differ")
	}
	return string(first), false, auth.CheckNewPassword(string(first))
}

// showGenerated prints a generated password, once.
func (a *app) showGenerated(generated bool, password string) {
	if generated {
		fmt.Fprintf(a.stdout, "Generated password (shown only now): %s\n", password)
	}
}

func (a *app) usersTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Long-lived API tokens of users (stored hashed, shown once)"}
	var username, name string
	var expires time.Duration
	create := &cobra.Command{
		Use: "create --username NAME", Short: "Create an API token and print it once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if expires < 0 {
				return fmt.Errorf("--expires %s: want a positive duration, or 0 for never", expires)
			}
			return a.withStore(cmd, func(st store.Store) error {
				secret, t, err := (auth.Users{Store: st}).CreateToken(cmd.Context(), username, name, expires)
				if err != nil {
					return fmt.Errorf("user %s: %w", username, err)
				}
				fmt.Fprintf(a.stderr, "Token %s of %s created; it is shown only now. Send it as Authorization: Bearer <token>.\n", t.ID, username)
				fmt.Fprintln(a.stdout, secret)
				return nil
			})
		},
	}
	create.Flags().StringVarP(&username, "username", "u", "", "the token's user (it acts with their role)")
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime (e.g. 2160h); 0: until revoked")
	_ = create.MarkFlagRequired("username")

	var listUser string
	list := &cobra.Command{
		Use: "list", Short: "List API tokens (ids and names, never the tokens)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(st store.Store) error {
				toks, err := st.ListAuthTokens(cmd.Context(), listUser, store.TokenAPI)
				if err != nil {
					return err
				}
				t := &table{headers: []string{"id", "username", "name", "created", "expires"}}
				for _, tk := range toks {
					t.add(map[string]any{"id": tk.ID, "username": tk.Username, "name": tk.Name, "created": tk.CreatedAt, "expires": tk.ExpiresAt})
				}
				return a.print(t)
			})
		},
	}
	list.Flags().StringVarP(&listUser, "username", "u", "", "only this user's tokens")

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API token at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(st store.Store) error {
				toks, err := st.ListAuthTokens(cmd.Context(), "", store.TokenAPI)
				if err != nil {
					return err
				}
				for _, tk := range toks {
					if tk.ID == args[0] {
						if err := st.DeleteAuthToken(cmd.Context(), tk.ID); err != nil {
							return err
						}
						fmt.Fprintf(a.stdout, "Token %s of %s revoked\n", tk.ID, tk.Username)
						return nil
					}
				}
				return fmt.Errorf("no API token %s (see sirocco users token list)", args[0])
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
