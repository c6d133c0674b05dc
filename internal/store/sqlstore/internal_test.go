package sqlstore

import (
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
	got := redact("postgres://user:secret@host:5432/db")
	if got != "postgres://user:xxxxx@host:5432/db" {
		t.Errorf("redact = %q", got)
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
