package auth

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
)

// TestPasswordChecksWaitForASlot: with every password-check slot taken a
// login waits (its 19 MiB argon2id is not started), and goes on as soon
// as a slot frees; a flood of logins therefore cannot take memory without
// bound.
func TestPasswordChecksWaitForASlot(t *testing.T) {
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Store: st, MaxPasswordChecks: 1})
	if err := (Users{Store: st}).Create(t.Context(), "ann", Viewer, "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler(http.NotFoundHandler()))
	t.Cleanup(srv.Close)

	a.hashing <- struct{}{} // every slot busy
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/auth/token", "application/json", strings.NewReader(`{"username":"ann","password":"guess"}`))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case s := <-answered:
		t.Fatalf("a login was answered (%d) while no password-check slot was free", s)
	case <-time.After(300 * time.Millisecond): // cannot await a non-event: a bounded look
	}
	<-a.hashing
	if s := <-answered; s != http.StatusUnauthorized {
		t.Errorf("the login once a slot freed: %d, want 401", s)
	}
}
