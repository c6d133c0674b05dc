package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                              "SELECT 1",
		"a = ? AND b IN (?, ?)":                 "a = $1 AND b IN ($2, $3)",
		"x = '?' AND y = ? AND z = \"q?\" OR ?": "x = '?' AND y = $1 AND z = \"q?\" OR $2",
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMigrationsWellFormed(t *testing.T) {
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		ms, err := migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].version != 1 {
			t.Errorf("%s: migrations %+v", d, ms)
		}
	}
	sq, _ := migrations(DialectSQLite)
	pg, _ := migrations(DialectPostgres)
	if len(sq) != len(pg) {
		t.Errorf("sqlite has %d migrations, postgres %d: keep the dialects in step", len(sq), len(pg))
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://user:secret@host:5432/db":         "postgres://user:xxxxx@host:5432/db",
		"postgres://user@host/db?password=secret&x=1": "postgres://user@host/db?password=xxxxx&x=1",
		"host=h user=u password='a b' dbname=d":       "host=h user=u password=xxxxx dbname=d",
		"postgres://host/db":                          "postgres://host/db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTimeEncoding(t *testing.T) {
	s := &Store{}
	in := time.Date(2025, 1, 2, 3, 4, 5, 6007, time.FixedZone("X", 3600))
	v := s.tv(in)
	var out time.Time
	if err := tc(&out).Scan(v); err != nil {
		t.Fatal(err)
	}
	if !out.Equal(in.Truncate(time.Microsecond)) || out.Location() != time.UTC {
		t.Errorf("round trip %v -> %v -> %v", in, v, out)
	}
	if s.tv(time.Time{}) != nil {
		t.Error("zero time not encoded as NULL")
	}
}

// TestSQLitePragmas: the writer runs in WAL with NORMAL sync and foreign
// keys; readers are read-only and enforce foreign keys too.
func TestSQLitePragmas(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	for _, c := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.db, "journal_mode", "wal"},
		{s.db, "synchronous", "1"},
		{s.db, "foreign_keys", "1"},
		{s.db, "busy_timeout", "5000"},
		{s.rdb, "journal_mode", "wal"},
		{s.rdb, "foreign_keys", "1"},
		{s.rdb, "query_only", "1"},
		{s.rdb, "busy_timeout", "5000"},
	} {
		var got string
		if err := c.db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
		}
	}
	if _, err := s.rdb.ExecContext(ctx, "CREATE TABLE x (y int)"); err == nil {
		t.Error("the read pool accepted a write")
	}
}
