package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// guard checks what every /api/v1 request but health must satisfy.
//
//   - Without a token the API trusts whoever can reach the loopback
//     address, so the Host must be a loopback name: a page whose domain
//     was rebound to 127.0.0.1 sends its own Host and gets 403.
//   - No CORS preflight is ever granted: a browser page of another origin
//     cannot send a write, nor read an answer.
//   - With a token, Authorization: Bearer <token> is required (compared in
//     constant time).
//   - A write must be Content-Type: application/json, which a browser only
//     sends cross-site after a preflight, so a form or an <img> cannot
//     forge one.
func (s *server) guard(w http.ResponseWriter, r *http.Request) error {
	token := s.o.Config.APIToken
	if token == "" && !loopbackHost(r.Host) {
		return &problem{Status: http.StatusForbidden, Title: "Forbidden",
			Detail: fmt.Sprintf("host %q is not a loopback name; without api_token the API only answers requests to localhost", r.Host),
			kind:   "PermissionDenied"}
	}
	if r.Method == http.MethodOptions {
		return &problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
			Detail: "cross-origin requests are not allowed", kind: "MethodNotAllowed",
			allow: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}}
	}
	if token != "" && !validToken(r.Header.Get("Authorization"), token) {
		return &problem{Status: http.StatusUnauthorized, Title: "Unauthorized",
			Detail: "this API requires the header Authorization: Bearer <api_token>", kind: "Unauthenticated"}
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

// validToken compares the bearer token of header with want in constant
// time (over digests, so the length leaks nothing either).
func validToken(header, want string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	a := sha256.Sum256([]byte(strings.TrimSpace(got)))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// loopbackHost reports whether a Host header names this machine's
// loopback: localhost or a loopback IP, with or without a port.
func loopbackHost(host string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses to serve the API beyond loopback without a token:
// with no users yet, the token is the only thing between the network and
// triggering jobs. An address without a host (":8080") listens everywhere.
func CheckListen(addr, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host != "" {
		if strings.EqualFold(host, "localhost") {
			return nil
		}
		ips, err := net.LookupIP(host)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", addr, err)
		}
		loopback := len(ips) > 0
		for _, ip := range ips {
			loopback = loopback && ip.IsLoopback()
		}
		if loopback {
			return nil
		}
	}
	return fmt.Errorf("refusing to serve the API on %s, which is reachable from other machines, without a token: "+
		"set api_token (SIROCCO_API_TOKEN) or listen on 127.0.0.1", addr)
}
