package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/testenv"
	"github.com/sirocco-dev/sirocco/internal/ui"
)

// addUser stores a Viewer with the password.
func addUser(t *testing.T, s *site, name, password string) {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.CreateUser(t.Context(), store.User{Username: name, Role: "Viewer", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
}

// formLogin signs in through the login form and returns the session and CSRF
// cookies' values.
func formLogin(t *testing.T, s *site, name, password string) (session, csrf string) {
	t.Helper()
	form := url.Values{"username": {name}, "password": {password}, auth.CSRFField: {"form-token"}}
	req, err := http.NewRequest("POST", s.srv.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: auth.CSRFCookie, Value: "form-token"})
	client := *s.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		switch c.Name {
		case auth.SessionCookie:
			session = c.Value
		case auth.CSRFCookie:
			csrf = c.Value
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == "" {
		t.Fatalf("login: %d, session %q", resp.StatusCode, session)
	}
	return session, csrf
}

// endOf waits for the stream's "end" event, skipping others, and returns
// its reason.
func endOf(t *testing.T, events <-chan event) string {
	t.Helper()
	for {
		ev, ok := next(t, events, 10*time.Second)
		if !ok {
			t.Fatal("the stream closed without an end event")
		}
		if ev.name == "end" {
			var reason string
			if err := json.Unmarshal([]byte(ev.data), &reason); err != nil {
				t.Fatalf("end data %q: %v", ev.data, err)
			}
			return reason
		}
	}
}

// TestStreamsEndWhenSignedOut: an open change feed or log tail ends with an
// "end" event saying why once its caller logs out, is deleted, or the
// session expires; a new stream is refused then. (The middleware checks
// credentials only when a request starts, so before this a tail kept
// streaming a running try's log to a deleted user.)
func TestStreamsEndWhenSignedOut(t *testing.T) {
	cases := []struct {
		name, path string
		ttl        time.Duration
		end        func(t *testing.T, s *site, session, csrf string)
		want       string
	}{
		{name: "logout", path: "/ui/api/events", end: func(t *testing.T, s *site, session, csrf string) {
			req, _ := http.NewRequest("POST", s.srv.URL+"/logout", nil)
			req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: session})
			req.AddCookie(&http.Cookie{Name: auth.CSRFCookie, Value: csrf})
			req.Header.Set(auth.CSRFHeader, csrf)
			client := *s.srv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		}, want: "signed out"},
		{name: "user deleted", path: "/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1",
			end: func(t *testing.T, s *site, _, _ string) {
				if err := s.st.DeleteUser(t.Context(), "vic"); err != nil {
					t.Fatal(err)
				}
			}, want: "signed out"},
		{name: "session expired", path: "/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1", ttl: 1500 * time.Millisecond,
			end: func(*testing.T, *site, string, string) {}, want: "session expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recheck := 50 * time.Millisecond
			if c.ttl > 0 {
				recheck = time.Hour // the expiry alone must end it
			}
			s := newSiteWith(t, map[string]string{"etl.yaml": etlYAML}, &auth.Options{SessionTTL: c.ttl},
				func(o *ui.Options) { o.RecheckInterval = recheck })
			s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				map[string]store.TaskState{"extract": store.StateRunning}, "extract")
			addUser(t, s, "vic", "a-Long-passw0rd-for-vic")
			session, csrf := formLogin(t, s, "vic", "a-Long-passw0rd-for-vic")
			cookie := auth.SessionCookie + "=" + session
			events := s.stream(c.path, "Cookie", cookie)
			c.end(t, s, session, csrf)
			if reason := endOf(t, events); !strings.Contains(reason, c.want) {
				t.Errorf("end: %q, want it to say %q", reason, c.want)
			}
			if _, ok := next(t, events, 5*time.Second); ok {
				t.Error("the stream stays open after end")
			}
			if status, _, _ := s.get(c.path, "Cookie", cookie); status != http.StatusUnauthorized {
				t.Errorf("a new stream with the old cookie: %d, want 401", status)
			}
		})
	}
}

// countingStore counts the change feed's looks at the store.
type countingStore struct {
	store.Store
	looks atomic.Int64
}

func (c *countingStore) TaskChangeCursor(ctx context.Context) (store.ChangeCursor, error) {
	c.looks.Add(1)
	return c.Store.TaskChangeCursor(ctx)
}

// TestChangeFeedPollsOnceForAll: eight open change feeds and log tails
// cost one look at the store per poll interval, not one each, and each
// still hears of a change.
func TestChangeFeedPollsOnceForAll(t *testing.T) {
	var counted *countingStore
	s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *ui.Options) {
		counted = &countingStore{Store: o.Store}
		o.Store = counted
	})
	s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		map[string]store.TaskState{"extract": store.StateRunning}, "extract", "transform")
	var feeds []<-chan event
	for i := range 8 {
		path := "/ui/api/events"
		if i%2 == 1 {
			path = "/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1"
		}
		feeds = append(feeds, s.stream(path))
	}
	const window = 50 // poll intervals of 20ms
	before := counted.looks.Load()
	<-time.After(window * 20 * time.Millisecond) // a measuring window, not a wait for an event
	if looks := counted.looks.Load() - before; looks > window+window/2 {
		t.Errorf("%d looks at the store in %d poll intervals with 8 streams open: want about %d (one poller)", looks, window, window)
	}
	s.setState(store.TaskKey{DagID: "etl", RunID: "r1", TaskID: "transform"}, store.StateRunning, nil)
	for i := 0; i < len(feeds); i += 2 {
		if ev, _ := next(t, feeds[i], 5*time.Second); ev.name != "change" {
			t.Errorf("feed %d: %+v, want change", i, ev)
		}
	}
}

// streamStatus opens path and returns the status of its answer, closing
// it at once.
func (s *site) streamStatus(path string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct{ Detail string }
	if resp.StatusCode != http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(&p)
	}
	return resp.StatusCode, p.Detail
}

// TestStreamCaps: beyond MaxStreamsPerUser streams of one caller, or
// MaxStreams in all, a stream is answered 429 saying which; closing one
// makes room again.
func TestStreamCaps(t *testing.T) {
	for _, c := range []struct {
		perUser, total int
		want           string
	}{{2, 10, "you have 2"}, {10, 2, "the server has 2"}} {
		t.Run(fmt.Sprintf("per user %d, total %d", c.perUser, c.total), func(t *testing.T) {
			s := newSite(t, map[string]string{"etl.yaml": etlYAML}, func(o *ui.Options) {
				o.MaxStreamsPerUser, o.MaxStreams = c.perUser, c.total
			})
			s.createRun("etl", "r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				map[string]store.TaskState{"extract": store.StateRunning}, "extract")
			_, closeFirst := s.openStream("/ui/api/events")
			s.stream("/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1")
			for _, path := range []string{"/ui/api/events", "/ui/api/log?dag_id=etl&run_id=r1&task_id=extract&try=1"} {
				if status, detail := s.streamStatus(path); status != http.StatusTooManyRequests || !strings.Contains(detail, c.want) {
					t.Errorf("%s beyond the cap: %d %q, want 429 saying %q", path, status, detail, c.want)
				}
			}
			closeFirst()
			testenv.Eventually(t, "a closed stream makes room", 5*time.Second, func() (bool, string) {
				status, detail := s.streamStatus("/ui/api/events")
				return status == http.StatusOK, fmt.Sprintf("%d %s", status, detail)
			})
		})
	}
}
