package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// httpFlags are how standalone and api-server serve HTTP.
type httpFlags struct {
	listen           string
	tlsCert, tlsKey  string
	insecureListen   bool
	defaultListen    string
	listenHelpSuffix string
}

func (f *httpFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", f.defaultListen, "address of the REST API, the login page and /health"+f.listenHelpSuffix)
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fl.BoolVar(&f.insecureListen, "insecure-listen", false,
		"serve beyond loopback without TLS or without authentication (only behind a TLS proxy on a trusted network)")
}

// tls reports whether HTTPS is asked for, checking that the certificate
// and key are given together and load.
func (f *httpFlags) tls() (bool, error) {
	if f.tlsCert == "" && f.tlsKey == "" {
		return false, nil
	}
	if f.tlsCert == "" || f.tlsKey == "" {
		return false, errors.New("--tls-cert and --tls-key go together")
	}
	if _, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey); err != nil {
		return false, fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", f.tlsCert, f.tlsKey, err)
	}
	return true, nil
}

// check refuses an address beyond loopback without auth and TLS (unless
// --insecure-listen); authOn says whether requests will need credentials.
func (f *httpFlags) check(authOn bool) (bool, error) {
	secure, err := f.tls()
	if err != nil {
		return false, err
	}
	return secure, api.CheckListen(f.listen, api.Listen{Auth: authOn, TLS: secure, Insecure: f.insecureListen})
}

// siteHandler is everything served on the port, behind authentication:
// /login, /logout and /auth/token (package auth), /api/v1, /health and
// /metrics (package api, over opts), and the web UI at every other path
// (its event streams check the caller's credentials again as they last);
// every answer is counted in opts.Metrics.
func siteHandler(st store.Store, cfg config.Config, log *slog.Logger, opts api.Options, uiOpts ui.Options, secure bool) http.Handler {
	return api.Site(opts, auth.Options{Store: st, ServiceToken: cfg.APIToken, Secure: secure, Logger: log}, func(a *auth.Auth) http.Handler {
		uiOpts.Recheck = a.StillValid
		return ui.New(uiOpts)
	})
}

// uiOptions are the web UI's: the auth middleware in front of it has
// authenticated every request that reaches it (or the path is public:
// its static assets), so its data guard admits all. keys decrypt the
// secrets its rendered fields are masked with.
func uiOptions(st store.Store, dags func() (map[string]*dag.DAG, map[string]error), cfg config.Config, log *slog.Logger,
	stop <-chan struct{}, keys *connection.Keyring) ui.Options {
	return ui.Options{Store: st, DAGs: dags, Config: cfg, Logger: log, Stop: stop, Keys: keys,
		Guard: func(*http.Request) error { return nil }}
}

// startHTTP serves handler on f's address (HTTPS when f has a certificate)
// in the background; the returned function stops it, letting requests in
// flight finish for a few seconds.
func startHTTP(f *httpFlags, handler http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if f.tlsCert != "" {
			err = srv.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	}, nil
}

// logAPIAuth says how the API is protected, never a secret.
func logAPIAuth(ctx context.Context, log *slog.Logger, cfg config.Config, st store.Store) {
	has, err := st.HasUsers(ctx)
	switch {
	case err != nil:
		log.Warn("cannot tell whether users exist", "err", err)
	case has:
		log.Info("the API and UI require a login (users exist); api_token is a service token", "service_token", cfg.APIToken != "")
	case cfg.APIToken != "":
		log.Info("the API requires the bearer token api_token (no user yet: sirocco users create)")
	default:
		log.Warn("no user and no api_token: the API answers loopback requests only, as Admin; create a user with sirocco users create")
	}
}

// announceAdmin shows the first admin's generated password once, on
// stderr and outside the structured service log (which may be shipped
// elsewhere).
func (a *app) announceAdmin(password string, f *httpFlags) {
	where := "the API"
	if f.listen != "" {
		scheme := "http"
		if f.tlsCert != "" {
			scheme = "https"
		}
		where = scheme + "://" + f.listen + "/login"
	}
	fmt.Fprintf(a.stderr, "\n"+
		"  ================================================================\n"+
		"  Sirocco created the first user, an Admin. Sign in at %s:\n"+
		"      username: %s\n"+
		"      password: %s\n"+
		"  This password is shown only now; only its hash is stored. Change it\n"+
		"  with: sirocco users reset-password --username %s\n"+
		"  ================================================================\n\n",
		where, auth.FirstAdmin, password, auth.FirstAdmin)
}
