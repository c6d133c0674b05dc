package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("Users", testUsers)
	register("AuthTokens", testAuthTokens)
	register("AuthTokensGoWithTheirUser", testAuthTokensGoWithTheirUser)
	register("EventLogs", testEventLogs)
}

// testUsers: create, get, list, duplicate, password change and delete, and
// HasUsers following them.
func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	if has, err := s.HasUsers(ctx); err != nil || has {
		t.Fatalf("HasUsers on an empty store = %v, %v", has, err)
	}
	bob := store.User{Username: "bob", Role: "Viewer", PasswordHash: "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", CreatedAt: at(0), UpdatedAt: at(0)}
	ann := store.User{Username: "ann", Role: "Admin", PasswordHash: "h2", CreatedAt: at(time.Second), UpdatedAt: at(time.Second)}
	for _, u := range []store.User{bob, ann} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "create bob again", s.CreateUser(ctx, bob), store.ErrExists)
	if has, err := s.HasUsers(ctx); err != nil || !has {
		t.Fatalf("HasUsers with two users = %v, %v", has, err)
	}
	got, err := s.GetUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "bob", got, store.User{Username: "bob", Role: "Viewer", PasswordHash: bob.PasswordHash, CreatedAt: stored(at(0)), UpdatedAt: stored(at(0))})
	_, err = s.GetUser(ctx, "nobody")
	wantErr(t, "get a missing user", err, store.ErrNotFound)
	list, err := s.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "ann" || list[1].Username != "bob" {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	if err := s.SetUserPassword(ctx, "bob", "new-hash", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, "bob")
	if got.PasswordHash != "new-hash" || !got.UpdatedAt.Equal(stored(at(time.Hour))) || !got.CreatedAt.Equal(stored(at(0))) {
		t.Errorf("after SetUserPassword: %+v", got)
	}
	wantErr(t, "password of a missing user", s.SetUserPassword(ctx, "nobody", "h", at(0)), store.ErrNotFound)
	for _, name := range []string{"bob", "ann"} {
		if err := s.DeleteUser(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "delete a missing user", s.DeleteUser(ctx, "bob"), store.ErrNotFound)
	if has, _ := s.HasUsers(ctx); has {
		t.Error("HasUsers after deleting everyone")
	}
}

func mustUser(t *testing.T, s store.Store, name string) {
	t.Helper()
	if err := s.CreateUser(t.Context(), store.User{Username: name, Role: "User", PasswordHash: "h", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
}

// testAuthTokens: tokens are found by their digest, listed by user and
// kind, pruned once expired (never when they never expire) and revoked by
// id; a token of a missing user or a reused digest is refused.
func testAuthTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUser(t, s, "bob")
	mustUser(t, s, "ann")
	toks := []store.AuthToken{
		{ID: "s1", Hash: "h-s1", Username: "bob", Kind: store.TokenSession, CreatedAt: at(0), ExpiresAt: at(time.Hour)},
		{ID: "a1", Hash: "h-a1", Username: "bob", Kind: store.TokenAPI, Name: "ci", CreatedAt: at(time.Second)},
		{ID: "x1", Hash: "h-x1", Username: "ann", Kind: store.TokenAccess, CreatedAt: at(0), ExpiresAt: at(2 * time.Hour)},
	}
	for _, tk := range toks {
		if err := s.CreateAuthToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	dup := toks[0]
	dup.ID = "s2"
	wantErr(t, "a reused digest", s.CreateAuthToken(ctx, dup), store.ErrExists)
	wantErr(t, "a token of nobody", s.CreateAuthToken(ctx, store.AuthToken{ID: "n", Hash: "h-n", Username: "nobody", Kind: store.TokenAPI}), store.ErrNotFound)

	got, err := s.GetAuthToken(ctx, "h-a1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "api token", got, store.AuthToken{ID: "a1", Hash: "h-a1", Username: "bob", Kind: store.TokenAPI, Name: "ci", CreatedAt: stored(at(time.Second))})
	_, err = s.GetAuthToken(ctx, "h-none")
	wantErr(t, "unknown digest", err, store.ErrNotFound)

	for _, c := range []struct {
		user string
		kind store.TokenKind
		want string
	}{{"", "", "[x1 s1 a1]"}, {"bob", "", "[s1 a1]"}, {"bob", store.TokenAPI, "[a1]"}, {"", store.TokenAccess, "[x1]"}, {"ann", store.TokenSession, "[]"}} {
		list, err := s.ListAuthTokens(ctx, c.user, c.kind)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(list))
		for i, tk := range list {
			ids[i] = tk.ID
		}
		if fmt.Sprint(ids) != c.want {
			t.Errorf("ListAuthTokens(%q, %q) = %v, want %s", c.user, c.kind, ids, c.want)
		}
	}

	n, err := s.PruneAuthTokens(ctx, at(90*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("PruneAuthTokens past the session's expiry = %d, %v; want 1", n, err)
	}
	if _, err := s.GetAuthToken(ctx, "h-s1"); err == nil {
		t.Error("the expired session is still there")
	}
	if _, err := s.GetAuthToken(ctx, "h-a1"); err != nil {
		t.Errorf("a token that never expires was pruned: %v", err)
	}
	if err := s.DeleteAuthToken(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "revoke twice", s.DeleteAuthToken(ctx, "a1"), store.ErrNotFound)
	if _, err := s.GetAuthToken(ctx, "h-a1"); err == nil {
		t.Error("a revoked token is still found")
	}
}

// testAuthTokensGoWithTheirUser: DeleteUserTokens removes only the kinds
// named, and deleting a user removes the rest.
func testAuthTokensGoWithTheirUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUser(t, s, "bob")
	mustUser(t, s, "ann")
	for i, k := range []store.TokenKind{store.TokenSession, store.TokenAccess, store.TokenAPI} {
		for _, u := range []string{"bob", "ann"} {
			id := fmt.Sprintf("%s-%d", u, i)
			if err := s.CreateAuthToken(ctx, store.AuthToken{ID: id, Hash: "h-" + id, Username: u, Kind: k, CreatedAt: at(0)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := s.DeleteUserTokens(ctx, "bob", store.TokenSession, store.TokenAccess)
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserTokens(bob, session, access) = %d, %v", n, err)
	}
	if list, _ := s.ListAuthTokens(ctx, "bob", ""); len(list) != 1 || list[0].Kind != store.TokenAPI {
		t.Errorf("bob keeps %+v, want his API token", list)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListAuthTokens(ctx, "bob", ""); len(list) != 0 {
		t.Errorf("a deleted user's tokens remain: %+v", list)
	}
	if n, err := s.DeleteUserTokens(ctx, "ann"); err != nil || n != 3 {
		t.Errorf("DeleteUserTokens(ann) = %d, %v; want 3", n, err)
	}
}

// testEventLogs: entries get increasing ids, keep every field, filter,
// page and sort, and the total ignores paging.
func testEventLogs(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 5 {
		e := store.EventLog{When: at(time.Duration(i) * time.Second), Owner: "bob", Event: "POST /dags/{dag_id}/dagRuns",
			DagID: "etl", RunID: fmt.Sprintf("r%d", i), TaskID: "t", Extra: `{"status":200}`}
		if i%2 == 1 {
			e.Owner, e.DagID, e.Event = "ann", "other", "PATCH /dags/{dag_id}"
		}
		if err := s.AddEventLog(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, total, err := s.ListEventLogs(ctx, store.EventLogFilter{})
	if err != nil || total != 5 || len(all) != 5 {
		t.Fatalf("ListEventLogs = %d of %d, %v", len(all), total, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Errorf("ids not increasing: %d then %d", all[i-1].ID, all[i].ID)
		}
	}
	first := all[0]
	first.ID = 0
	same(t, "first entry", first, store.EventLog{When: stored(at(0)), Owner: "bob", Event: "POST /dags/{dag_id}/dagRuns",
		DagID: "etl", RunID: "r0", TaskID: "t", Extra: `{"status":200}`})
	page, total, err := s.ListEventLogs(ctx, store.EventLogFilter{Owner: "bob", Desc: true, Limit: 2, Offset: 1})
	if err != nil || total != 3 || len(page) != 2 || page[0].RunID != "r2" || page[1].RunID != "r0" {
		t.Errorf("bob's, newest first, second page of 2: %+v (total %d), %v", page, total, err)
	}
	if one, total, err := s.ListEventLogs(ctx, store.EventLogFilter{ID: all[2].ID}); err != nil || total != 1 || len(one) != 1 || one[0].RunID != "r2" {
		t.Errorf("ListEventLogs by id: %+v (%d), %v", one, total, err)
	}
	for _, f := range []store.EventLogFilter{{DagID: "other"}, {Event: "PATCH /dags/{dag_id}"}, {Owner: "ann"}} {
		if list, total, err := s.ListEventLogs(ctx, f); err != nil || total != 2 || len(list) != 2 {
			t.Errorf("ListEventLogs(%+v) = %d of %d, %v", f, len(list), total, err)
		}
	}
}
