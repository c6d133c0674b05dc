package api

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// guard checks what every /api/v1 request but health must satisfy before
// it is routed; who the caller is was settled by auth's middleware, and
// each route checks the caller's role (authorize).
//
//   - No CORS preflight is ever granted: a browser page of another origin
//     cannot send a write, nor read an answer.
//   - A write must be Content-Type: application/json, which a browser only
//     sends cross-site after a preflight, so a form or an <img> cannot
//     forge one.
func (s *server) guard(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodOptions {
		return &problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
			Detail: "cross-origin requests are not allowed", kind: "MethodNotAllowed",
			allow: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}}
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return &problem{Status: http.StatusUnsupportedMediaType, Title: "Unsupported media type",
				Detail: "a " + r.Method + " request must have Content-Type: application/json", kind: "BadRequest"}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	return nil
}

// Listen says how a server on an address is protected, for CheckListen.
type Listen struct {
	// Auth: requests need credentials (a user exists or will at start,
	// or api_token is set).
	Auth bool
	// TLS: the server speaks HTTPS (--tls-cert and --tls-key).
	TLS bool
	// Insecure: the operator forced serving beyond loopback without TLS
	// or without auth (--insecure-listen), e.g. behind a TLS proxy.
	Insecure bool
}

// CheckListen refuses to serve beyond loopback without authentication and
// TLS, unless forced: passwords, session cookies and tokens would cross
// the network in clear. An address without a host (":8080") listens
// everywhere.
func CheckListen(addr string, l Listen) error {
	loopback, err := loopbackAddr(addr)
	if err != nil {
		return err
	}
	if loopback || l.Insecure {
		return nil
	}
	if !l.Auth {
		return fmt.Errorf("refusing to serve the API on %s, which is reachable from other machines, without authentication: "+
			"create a user (sirocco users create) or set api_token (SIROCCO_API_TOKEN), or listen on 127.0.0.1", addr)
	}
	if !l.TLS {
		return fmt.Errorf("refusing to serve on %s, which is reachable from other machines, without TLS: passwords and tokens "+
			"would cross the network in clear; give --tls-cert and --tls-key, listen on 127.0.0.1, or pass "+
			"--insecure-listen when a TLS proxy in front of Sirocco is the only way in", addr)
	}
	return nil
}

// loopbackAddr reports whether addr's host only reaches this machine.
func loopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	loopback := len(ips) > 0
	for _, ip := range ips {
		loopback = loopback && ip.IsLoopback()
	}
	return loopback, nil
}
