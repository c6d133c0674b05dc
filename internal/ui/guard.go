package ui

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// guard admits a request to /ui/api/ (see Options.Guard).
func (h *handler) guard(r *http.Request) error {
	if h.o.Guard != nil {
		return h.o.Guard(r)
	}
	token := h.o.Config.APIToken
	if token == "" {
		if !loopbackHost(r.Host) {
			return &httpError{http.StatusForbidden, "host " + r.Host + " is not a loopback name; without api_token the UI's data is only served to localhost"}
		}
		return nil
	}
	if !validToken(r.Header.Get("Authorization"), token) {
		return &httpError{http.StatusUnauthorized, "this server requires the header Authorization: Bearer <api_token>"}
	}
	return nil
}

// validToken compares the bearer token of header with want in constant
// time, as the REST API does.
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
// loopback (a page whose domain was rebound to 127.0.0.1 sends its own).
func loopbackHost(host string) bool {
	if host == "" {
		return true
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
