package testenv

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
)

func TestMain(m *testing.M) { RunMain(m) }

// TestPostgres: each call gets its own empty database on a live server.
func TestPostgres(t *testing.T) {
	dsnA, dsnB := Postgres(t), Postgres(t)
	if dsnA == dsnB {
		t.Fatalf("two calls returned the same database %s", dsnA)
	}
	a, err := sql.Open("pgx", dsnA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open("pgx", dsnB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if _, err := a.ExecContext(t.Context(), "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	err = b.QueryRowContext(t.Context(), "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'").Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("table of database A visible in B: %d, %v", n, err)
	}
	var user string
	if err := a.QueryRowContext(t.Context(), "SELECT current_user").Scan(&user); err != nil || user != "postgres" {
		t.Errorf("current_user = %q, %v", user, err)
	}
}

// fakeTB records what RequireCI asks of a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

func TestRequireCI(t *testing.T) {
	missing := fmt.Errorf("thing %w", ErrNotInstalled)
	for _, c := range []struct {
		ci         string
		err        error
		skip, fail bool
	}{
		{"", nil, false, false},
		{"true", nil, false, false},
		{"", missing, true, false},
		{"false", missing, true, false},
		{"true", missing, false, true},
		{"1", errors.New("boom"), false, true},
	} {
		t.Setenv("CI", c.ci)
		f := &fakeTB{}
		RequireCI(f, "Thing", c.err)
		if (f.skipped != "") != c.skip || (f.failed != "") != c.fail {
			t.Errorf("CI=%q err=%v: skipped %q failed %q", c.ci, c.err, f.skipped, f.failed)
		}
	}
	t.Setenv("CI", "true")
	f := &fakeTB{}
	RequireCI(f, "PostgreSQL", missing)
	if want := "PostgreSQL is required under CI=true: thing not installed"; f.failed != want {
		t.Errorf("message %q, want %q", f.failed, want)
	}
}
