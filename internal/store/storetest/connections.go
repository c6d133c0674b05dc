package storetest

import (
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func init() {
	register("Connections", testConnections)
	register("ConnectionSecretsSwap", testConnectionSecretsSwap)
}

// testConnections: create refuses an existing id, set upserts every field,
// get and list return the fields as written (the ciphertext columns are
// opaque strings, kept byte for byte), list is sorted, delete of a missing
// id is ErrNotFound.
func testConnections(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetConnection(ctx, "nope")
	wantErr(t, "GetConnection missing", err, store.ErrNotFound)
	wantErr(t, "DeleteConnection missing", s.DeleteConnection(ctx, "nope"), store.ErrNotFound)
	if list, err := s.ListConnections(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListConnections on an empty store = %v, %v", list, err)
	}

	spark := store.ConnectionRecord{ConnID: "spark_default", ConnType: "spark", Host: "127.0.0.1", Port: 7077,
		Extra: "v1:0011223344556677:c2VjcmV0"}
	ssh := store.ConnectionRecord{ConnID: "edge", ConnType: "ssh", Description: "edge node, l'été",
		Host: "edge.example.com", Port: 22, Login: "spark", Password: "v1:0011223344556677:cGFzcw",
		Schema: "ignored", Extra: ""}
	for _, c := range []store.ConnectionRecord{spark, ssh} {
		if err := s.CreateConnection(ctx, c); err != nil {
			t.Fatalf("CreateConnection %s: %v", c.ConnID, err)
		}
	}
	dup := ssh
	dup.Host = "other"
	wantErr(t, "CreateConnection existing", s.CreateConnection(ctx, dup), store.ErrExists)
	got, err := s.GetConnection(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "connection after a refused create", got, ssh)

	// Set replaces every field, including clearing some.
	ssh2 := store.ConnectionRecord{ConnID: "edge", ConnType: "ssh", Host: "edge2", Login: "root"}
	if err := s.SetConnection(ctx, ssh2); err != nil {
		t.Fatal(err)
	}
	pg := store.ConnectionRecord{ConnID: "analytics.db-1", ConnType: "postgres", Host: "db", Port: 5432,
		Login: "u", Password: "v1:ffeeddccbbaa9988:eA", Schema: "warehouse"}
	if err := s.SetConnection(ctx, pg); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "connections", list, []store.ConnectionRecord{pg, ssh2, spark})

	if err := s.DeleteConnection(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetConnection(ctx, "edge")
	wantErr(t, "GetConnection deleted", err, store.ErrNotFound)
	if list, _ := s.ListConnections(ctx); len(list) != 2 {
		t.Errorf("after delete: %d connections, want 2", len(list))
	}
}

// testConnectionSecretsSwap: ReplaceConnectionSecrets is a conditional write
// on both ciphertexts; it leaves the other fields alone, loses against a
// concurrent change, misses a deleted row, and exactly one of several racers
// with the same expectation wins.
func testConnectionSecretsSwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := store.ConnectionRecord{ConnID: "c", ConnType: "http", Host: "h", Port: 80, Login: "l",
		Password: "old-p", Extra: "old-e", Description: "d"}
	if err := s.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		old  store.ConnectionRecord
		want bool
	}{
		{"stale password", store.ConnectionRecord{ConnID: "c", Password: "x", Extra: "old-e"}, false},
		{"stale extra", store.ConnectionRecord{ConnID: "c", Password: "old-p", Extra: "x"}, false},
		{"missing id", store.ConnectionRecord{ConnID: "nope", Password: "old-p", Extra: "old-e"}, false},
		{"current", c, true},
		{"already replaced", c, false},
	} {
		ok, err := s.ReplaceConnectionSecrets(ctx, tc.old, "new-p", "new-e")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ok != tc.want {
			t.Errorf("%s: ReplaceConnectionSecrets = %v, want %v", tc.name, ok, tc.want)
		}
	}
	got, err := s.GetConnection(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.Password, want.Extra = "new-p", "new-e"
	same(t, "connection after swap", got, want)

	var wg sync.WaitGroup
	wins := make(chan bool, 8)
	for i := range 8 {
		wg.Go(func() {
			ok, err := s.ReplaceConnectionSecrets(ctx, want, "p"+string(rune('0'+i)), "e")
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
			wins <- ok
		})
	}
	wg.Wait()
	close(wins)
	n := 0
	for ok := range wins {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d racers won the same swap, want exactly 1", n)
	}
}
