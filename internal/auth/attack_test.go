package auth_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestRateLimitHoldsUnderConcurrentGuesses: guesses sent all at once are
// counted as they arrive, not once their slow password checks end, so a
// burst cannot get more than MaxFails passwords checked per window.
func TestRateLimitHoldsUnderConcurrentGuesses(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Viewer, "correct horse")
	const burst = 20
	statuses := make(chan int, burst)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			js, _ := json.Marshal(map[string]string{"username": "ann", "password": "guess" + string(rune('a'+i))})
			start.Wait()
			resp, err := http.Post(b.srv.URL+"/auth/token", "application/json", strings.NewReader(string(js)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	start.Done()
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] > auth.DefaultMaxFails || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != burst {
		t.Errorf("%d concurrent guesses: %d checked (401), %d refused (429), others %v; want at most %d checked",
			burst, counts[http.StatusUnauthorized], counts[http.StatusTooManyRequests], counts, auth.DefaultMaxFails)
	}
}

// nonLoopbackIP returns an address of this machine that is not loopback,
// or skips: a caller from it is another machine as far as the server can
// tell.
func nonLoopbackIP(t *testing.T) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to call from")
	return nil
}

// TestOpenModeTrustsOnlyLocalCallers: with no user and no service token
// the anonymous Admin is for this machine's own callers. A caller from
// another machine naming Host: localhost (the server reachable beyond
// loopback with --insecure-listen, or after the last user was deleted)
// and a request relayed by a proxy on this machine (which connects from
// loopback) are refused.
func TestOpenModeTrustsOnlyLocalCallers(t *testing.T) {
	b := newBed(t)
	ip := nonLoopbackIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	remote := httptest.NewUnstartedServer(b.srv.Config.Handler)
	remote.Listener.Close()
	remote.Listener = ln
	remote.Start()
	t.Cleanup(remote.Close)

	get := func(base, host string, headers ...string) int {
		req, _ := http.NewRequest("GET", base+"/whoami", nil)
		req.Host = host
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(b.srv.URL, "localhost"); s != http.StatusOK {
		t.Fatalf("a local caller in open mode: %d", s)
	}
	for name, s := range map[string]int{
		"another machine, Host: localhost": get(remote.URL, "localhost"),
		"another machine, Host: 127.0.0.1": get(remote.URL, "127.0.0.1:8080"),
		"another machine, its own Host":    get(remote.URL, ""),
		"via a proxy, X-Forwarded-For":     get(b.srv.URL, "localhost", "X-Forwarded-For", "203.0.113.9"),
		"via a proxy, Forwarded":           get(b.srv.URL, "localhost", "Forwarded", "for=203.0.113.9"),
		"via a proxy, X-Real-IP":           get(b.srv.URL, "localhost", "X-Real-IP", "203.0.113.9"),
	} {
		if s != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, s)
		}
	}
}

// TestOpenModeRefusesCrossSiteWrites: the anonymous Admin of a machine
// with no user has no session and so no CSRF token; a page of another
// site the local user opens must still not be able to post a form (a UI
// action) to localhost. A browser names such a request's origin
// (Sec-Fetch-Site, Origin); curl and same-origin pages go through.
func TestOpenModeRefusesCrossSiteWrites(t *testing.T) {
	b := newBed(t)
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	for name, tc := range map[string]struct {
		headers []string
		want    int
	}{
		"cross-site form":           {append([]string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, form...), http.StatusForbidden},
		"same-site, other origin":   {append([]string{"Sec-Fetch-Site", "same-site"}, form...), http.StatusForbidden},
		"old browser, other Origin": {append([]string{"Origin", "http://evil.example"}, form...), http.StatusForbidden},
		"same-origin page":          {append([]string{"Sec-Fetch-Site", "same-origin", "Origin", b.srv.URL}, form...), http.StatusAccepted},
		"curl":                      {form, http.StatusAccepted},
	} {
		if r := b.send(&http.Client{}, "POST", "/api/v1/dags/x", strings.NewReader("a=b"), tc.headers...); r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, tc.want)
		}
	}
	if r := b.send(&http.Client{}, "GET", "/whoami", nil, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusOK {
		t.Errorf("a cross-site read (a link) in open mode: %d", r.status)
	}
}

// TestEnsureAdminRace: two standalone starts on one database at once
// create one admin, and the one password printed is the one stored.
func TestEnsureAdminRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	var stores [4]store.Store
	for i := range stores {
		st, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		stores[i] = st
	}
	passwords := make(chan string, len(stores))
	var wg sync.WaitGroup
	for _, st := range stores {
		wg.Go(func() {
			pw, err := auth.Users{Store: st}.EnsureAdmin(t.Context())
			if err != nil {
				t.Error(err)
			}
			passwords <- pw
		})
	}
	wg.Wait()
	close(passwords)
	var printed []string
	for pw := range passwords {
		if pw != "" {
			printed = append(printed, pw)
		}
	}
	users, err := stores[0].ListUsers(t.Context())
	if err != nil || len(users) != 1 || len(printed) != 1 {
		t.Fatalf("%d starts: users %+v (%v), %d passwords printed; want one of each", len(stores), users, err, len(printed))
	}
	if ok, err := auth.CheckPassword(users[0].PasswordHash, printed[0]); !ok || err != nil {
		t.Errorf("the printed password is not the stored one: %v", err)
	}
}

// TestOpenModeStaysClosedOnceAUserLoggedIn: a server whose users only
// ever called it with credentials (so it never had to ask whether users
// exist) does not fall back to the anonymous Admin when the last user is
// deleted while it runs.
func TestOpenModeStaysClosedOnceAUserLoggedIn(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Admin, "correct horse")
	tok, _, err := b.users.CreateToken(t.Context(), "ann", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.send(&http.Client{}, "GET", "/whoami", nil, "Authorization", "Bearer "+tok); r.status != http.StatusOK {
		t.Fatalf("with ann's token: %d", r.status)
	}
	if err := b.st.DeleteUser(t.Context(), "ann"); err != nil {
		t.Fatal(err)
	}
	if r := b.send(&http.Client{}, "GET", "/whoami", nil); r.status != http.StatusUnauthorized {
		t.Errorf("no credentials after the last user went: %d %s, want 401", r.status, r.body)
	}
}

// TestRateLimitIgnoresForwardedFor: a caller cannot get a fresh address
// budget by naming another client in X-Forwarded-For or Forwarded.
func TestRateLimitIgnoresForwardedFor(t *testing.T) {
	b := newBed(t)
	try := func(user string, headers ...string) int {
		js, _ := json.Marshal(map[string]string{"username": user, "password": "guess"})
		return b.send(&http.Client{}, "POST", "/auth/token", strings.NewReader(string(js)),
			append([]string{"Content-Type", "application/json"}, headers...)...).status
	}
	for i := range auth.DefaultMaxFails {
		try("u"+string(rune('a'+i)), "X-Forwarded-For", "203.0.113."+string(rune('1'+i)))
	}
	for _, h := range [][]string{{"X-Forwarded-For", "198.51.100.7"}, {"Forwarded", "for=198.51.100.7"}, {"X-Real-IP", "198.51.100.7"}} {
		if s := try("zed", h...); s != http.StatusTooManyRequests {
			t.Errorf("a sixth failure from one address claiming %s: %d, want 429", h[0], s)
		}
	}
}
