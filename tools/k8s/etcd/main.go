// Command etcd runs a single-member etcd embedded through
// go.etcd.io/etcd/server/v3/embed, the store behind the test bed's
// kube-apiserver. It listens only on the loopback URLs the caller gives
// (free ports the caller chose), prints "etcd ready" on stdout once it
// serves clients, and stops cleanly on SIGTERM or SIGINT.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// readyTimeout bounds the wait for the member to serve clients; a single
// member with an empty data directory is ready in well under a second.
const readyTimeout = time.Minute

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

// run parses the flags, starts the member and serves until a signal.
func run(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory (required)")
	clientURL := fs.String("listen-client-url", "", "client URL, e.g. http://127.0.0.1:PORT (required)")
	peerURL := fs.String("listen-peer-url", "", "peer URL, e.g. http://127.0.0.1:PORT (required)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	unsafeNoFsync := fs.Bool("unsafe-no-fsync", true, "skip fsync (a throwaway test store: faster on a loaded disk)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || *clientURL == "" || *peerURL == "" {
		return errors.New("-data-dir, -listen-client-url and -listen-peer-url are required")
	}
	cfg, err := config(*dataDir, *clientURL, *peerURL)
	if err != nil {
		return err
	}
	cfg.LogLevel = *logLevel
	cfg.UnsafeNoFsync = *unsafeNoFsync
	return serve(cfg)
}

// config builds a single-member configuration on the given URLs.
func config(dataDir, clientURL, peerURL string) (*embed.Config, error) {
	client, err := url.Parse(clientURL)
	if err != nil {
		return nil, fmt.Errorf("-listen-client-url %q: %w", clientURL, err)
	}
	peer, err := url.Parse(peerURL)
	if err != nil {
		return nil, fmt.Errorf("-listen-peer-url %q: %w", peerURL, err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "sirocco-test"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	return cfg, nil
}

// serve starts the member, announces readiness and runs until a signal
// or a server error.
func serve(cfg *embed.Config) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Println("etcd ready")
	case <-time.After(readyTimeout):
		e.Server.Stop()
		return fmt.Errorf("not ready after %s", readyTimeout)
	case sig := <-stop:
		return fmt.Errorf("stopped by %s before ready", sig)
	}
	select {
	case err := <-e.Err():
		return fmt.Errorf("serve: %w", err)
	case <-stop:
		return nil
	}
}
