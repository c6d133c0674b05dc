package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// usersBed runs CLI commands against one migrated home.
type usersBed struct {
	t    *testing.T
	home string
	db   string
}

func newUsersBed(t *testing.T) *usersBed {
	home := t.TempDir()
	b := &usersBed{t: t, home: home, db: "sqlite://" + filepath.Join(home, "sirocco.db")}
	if err := os.MkdirAll(filepath.Join(home, "dags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := b.run("", "db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	return b
}

// run executes the CLI with stdin and returns stdout+stderr.
func (b *usersBed) run(stdin string, args ...string) (string, error) {
	var out bytes.Buffer
	root := NewRoot(&out, &out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--home", b.home, "--dags", filepath.Join(b.home, "dags"), "--database-url", b.db}, args...))
	err := root.ExecuteContext(b.t.Context())
	return out.String(), err
}

func TestUsersCommands(t *testing.T) {
	b := newUsersBed(t)
	out, err := b.run("s3cret-password\n", "users", "create", "--username", "ann", "--role", "op", "--password-stdin")
	if err != nil || !strings.Contains(out, "User ann created with role Op") || strings.Contains(out, "s3cret") {
		t.Fatalf("create ann: %v\n%s", err, out)
	}
	out, err = b.run("", "users", "create", "-u", "bob", "-r", "Viewer")
	if err != nil || !strings.Contains(out, "Generated password (shown only now): ") {
		t.Fatalf("create bob with a generated password: %v\n%s", err, out)
	}
	generated := strings.TrimSpace(out[strings.LastIndex(out, ": ")+2:])
	for _, bad := range [][]string{
		{"users", "create", "-u", "ann", "-r", "Op"},                       // exists
		{"users", "create", "-u", "carl", "-r", "root"},                    // role
		{"users", "create", "-u", "has space", "-r", "Viewer"},             // name
		{"users", "create", "-u", "service", "-r", "Viewer"},               // reserved
		{"users", "delete", "-u", "nobody"},                                // missing
		{"users", "reset-password", "-u", "nobody"},                        // missing
		{"users", "token", "create", "-u", "nobody"},                       // missing
		{"users", "token", "revoke", "nope"},                               // missing
		{"users", "create", "-u", "dan", "-r", "User", "--password-stdin"}, // empty stdin
	} {
		if out, err := b.run("", bad...); err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
	if out, err := b.run("short\n", "users", "create", "-u", "dan", "-r", "User", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("a short password: %v\n%s", err, out)
	}

	out, err = b.run("", "users", "list", "-o", "json")
	if err != nil || !strings.Contains(out, `"username": "ann"`) || !strings.Contains(out, `"role": "Viewer"`) || strings.Contains(out, "argon2") {
		t.Errorf("users list: %v\n%s", err, out)
	}

	out, err = b.run("", "users", "token", "create", "-u", "ann", "--name", "ci")
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, auth.TokenPrefix) {
			token = line
		}
	}
	if token == "" {
		t.Fatalf("token create printed no token:\n%s", out)
	}
	out, _ = b.run("", "users", "token", "list", "-o", "json")
	if !strings.Contains(out, `"name": "ci"`) || strings.Contains(out, token) {
		t.Errorf("token list:\n%s", out)
	}

	st, err := sqlstore.Open(context.Background(), b.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := st.GetUser(t.Context(), "bob")
	if ok, _ := auth.CheckPassword(u.PasswordHash, generated); !ok {
		t.Errorf("bob's generated password %q does not match the stored hash", generated)
	}
	toks, _ := st.ListAuthTokens(t.Context(), "ann", "")
	if len(toks) != 1 || toks[0].Hash == token || strings.Contains(toks[0].Hash, token) {
		t.Fatalf("stored tokens: %+v", toks)
	}
	if out, err := b.run("", "users", "token", "revoke", toks[0].ID); err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %v %s", err, out)
	}
	if out, err := b.run("n3w-password\n", "users", "reset-password", "-u", "bob", "--password-stdin"); err != nil || !strings.Contains(out, "reset") {
		t.Errorf("reset-password: %v %s", err, out)
	}
	u, _ = st.GetUser(t.Context(), "bob")
	if ok, _ := auth.CheckPassword(u.PasswordHash, "n3w-password"); !ok {
		t.Error("reset-password did not set the password")
	}
	if out, err := b.run("", "users", "delete", "-u", "bob"); err != nil || !strings.Contains(out, "deleted") {
		t.Errorf("delete: %v %s", err, out)
	}
}

// TestStandaloneCreatesAdminOnce: the first start creates admin and shows
// its password on stderr, outside the service log's structured lines; the
// next start does not; the API then needs a login.
func TestStandaloneCreatesAdminOnce(t *testing.T) {
	b := newUsersBed(t)
	start := func() (string, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(t.Context())
		var out syncBuffer
		root := NewRoot(&out, &out)
		root.SetArgs([]string{"--home", b.home, "--dags", filepath.Join(b.home, "dags"), "--database-url", b.db, "standalone", "--listen", addr})
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for {
			select {
			case err := <-done:
				t.Fatalf("standalone ended: %v\n%s", err, out.String())
			default:
			}
			resp, err := http.Get("http://" + addr + "/api/v1/dags")
			if err == nil && !strings.Contains(out.String(), "sirocco started") {
				resp.Body.Close()
				err = errors.New("serving, not started yet")
			}
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("the API without a login: %d", resp.StatusCode)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("standalone did not answer: %v\n%s", err, out.String())
			}
			time.Sleep(50 * time.Millisecond) // polling a port that is not open yet: nothing to await
		}
		cancel()
		// The engine may answer a stop during its start with the cancel
		// itself (not this test's concern).
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("standalone: %v", err)
		}
		return addr, out.String()
	}
	_, first := start()
	if !strings.Contains(first, "username: admin") || !strings.Contains(first, "password: ") {
		t.Fatalf("first start shows no admin password:\n%s", first)
	}
	line := first[strings.Index(first, "password: ")+len("password: "):]
	password := strings.TrimSpace(line[:strings.Index(line, "\n")])
	for _, l := range strings.Split(first, "\n") {
		if strings.Contains(l, password) && (strings.Contains(l, "level=") || strings.Contains(l, "msg=")) {
			t.Errorf("the password went through the service log: %s", l)
		}
	}
	_, second := start()
	if strings.Contains(second, "password: ") {
		t.Errorf("second start shows a password again:\n%s", second)
	}
	st, err := sqlstore.Open(context.Background(), b.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUser(t.Context(), "admin")
	if err != nil || u.Role != "Admin" {
		t.Fatalf("admin: %+v %v", u, err)
	}
	if ok, _ := auth.CheckPassword(u.PasswordHash, password); !ok || strings.Contains(u.PasswordHash, password) {
		t.Error("the shown password does not match the stored hash")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
