package actions_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

func TestCheckRunID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		typ  store.RunType
		want string // "" when valid, else a part of the error
	}{
		{id: "r1", typ: store.RunManual},
		{id: "manual__2026-01-02T03:04:05+00:00", typ: store.RunManual},
		{id: "aZ09_.~:+-", typ: store.RunManual},
		{id: "a..b", typ: store.RunManual},
		{id: strings.Repeat("x", actions.MaxRunIDLen), typ: store.RunManual},
		{id: "scheduled__2026-01-01T00:00:00Z", typ: store.RunScheduled},
		{id: "", typ: store.RunManual, want: "empty"},
		{id: strings.Repeat("x", actions.MaxRunIDLen+1), typ: store.RunManual, want: "251 characters; at most 250"},
		{id: strings.Repeat("x", 300), typ: store.RunManual, want: `"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… has 300 characters`},
		{id: "col/lide", typ: store.RunManual, want: `'/' at byte 3`},
		{id: "a b", typ: store.RunManual, want: `' ' at byte 1`},
		{id: "a\tb", typ: store.RunManual, want: `'\t'`},
		{id: "a\nb", typ: store.RunManual, want: `'\n'`},
		{id: "a\x00b", typ: store.RunManual, want: `'\x00'`},
		{id: "a%2Fb", typ: store.RunManual, want: `'%'`},
		{id: "é", typ: store.RunManual, want: `'é'`},
		{id: "a\xffb", typ: store.RunManual, want: `'�'`},
		{id: "a\\b", typ: store.RunManual, want: `'\\'`},
		{id: "..", typ: store.RunManual, want: "only dots"},
		{id: ".", typ: store.RunManual, want: "only dots"},
		{id: "scheduled__2026-01-01T00:00:00Z", typ: store.RunManual, want: "reserved for scheduled runs"},
		{id: "backfill__x", typ: store.RunManual, want: "reserved for backfill runs"},
	}
	for _, tt := range tests {
		err := actions.CheckRunID(tt.id, tt.typ)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckRunID(%q) = %v, want valid", tt.id, err)
			}
			continue
		}
		var inv *actions.InvalidError
		if !errors.As(err, &inv) || inv.Field != "dag_run_id" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckRunID(%q) = %v, want an invalid dag_run_id saying %q", tt.id, err, tt.want)
		}
	}
}

// TestCreateRunRefusesBadIDs checks nothing is stored for a refused id:
// a 300-character id used to be accepted and then fail its tasks, since
// no log file could be made for it.
func TestCreateRunRefusesBadIDs(t *testing.T) {
	st, d := setup(t, chainYAML)
	for _, id := range []string{strings.Repeat("x", 300), "col/lide", "a b", "..", "scheduled__2026-01-01T00:00:00Z"} {
		_, err := actions.CreateRun(t.Context(), st, d, actions.RunRequest{RunID: id}, now)
		if !errors.Is(err, actions.ErrInvalid) {
			t.Errorf("run id %q: %v, want ErrInvalid", id, err)
		}
	}
	runs, err := st.ListRuns(t.Context(), store.RunFilter{DagID: d.ID})
	if err != nil || len(runs) != 0 {
		t.Errorf("runs stored: %v %v", runs, err)
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "2026-01-02", want: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{in: "2026-01-02T03:04:05+02:00", want: time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)},
		{in: "0001-01-01T00:00:01Z", want: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
		{in: "9999-12-31T23:59:59.999999Z", want: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{in: "0001-01-01", err: "zero time"},
		{in: "0001-01-01T00:00:00Z", err: "zero time"},
		{in: "0000-06-01", err: "out of range"},
		{in: "0001-01-01T00:00:00+01:00", err: "out of range"},
		{in: "9999-12-31T23:59:59-01:00", err: "out of range"},
		{in: "10000-01-01", err: "expected YYYY-MM-DD or RFC 3339"},
		{in: "yesterday", err: "expected YYYY-MM-DD or RFC 3339"},
	}
	for _, tt := range tests {
		got, err := actions.ParseDate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDate(%q) = %v, %v; want an error saying %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestLogicalDateRoundTrip checks both stores keep the extreme logical
// dates ParseDate accepts; the zero time, which both store as NULL, is
// refused rather than silently lost.
func TestLogicalDateRoundTrip(t *testing.T) {
	stores := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			return openStore(t, "sqlite://"+filepath.Join(t.TempDir(), "s.db"))
		},
		"postgres": func(t *testing.T) store.Store { return openStore(t, testenv.Postgres(t)) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			_, d := setup(t, chainYAML)
			st := open(t)
			for i, s := range []string{"0001-01-01T00:00:00.000001Z", "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59Z"} {
				run, err := actions.CreateRun(t.Context(), st, d, actions.RunRequest{RunID: "r" + string(rune('0'+i)), LogicalDate: s}, now)
				if err != nil {
					t.Fatalf("%s: %v", s, err)
				}
				got, err := st.GetRun(t.Context(), d.ID, run.RunID)
				if err != nil || !got.LogicalDate.Equal(run.LogicalDate) || got.LogicalDate.IsZero() {
					t.Errorf("%s: stored %v (%v), want %v", s, got.LogicalDate, err, run.LogicalDate)
				}
			}
			for _, s := range []string{"0001-01-01", "0000-12-31T23:00:00Z", "9999-12-31T23:59:59-05:00"} {
				_, err := actions.CreateRun(t.Context(), st, d, actions.RunRequest{LogicalDate: s}, now)
				var inv *actions.InvalidError
				if !errors.As(err, &inv) || inv.Field != "logical_date" {
					t.Errorf("%s: %v, want an invalid logical_date", s, err)
				}
			}
		})
	}
}

// TestConfNUL checks a conf string holding NUL is refused: PostgreSQL's
// jsonb cannot keep it, which made the write fail as an internal error.
func TestConfNUL(t *testing.T) {
	st := openStore(t, testenv.Postgres(t))
	_, d := setup(t, chainYAML)
	for _, conf := range []map[string]any{
		{"note": "a\x00b"}, {"a\x00": 1}, {"deep": []any{1, map[string]any{"x": "\x00"}}},
	} {
		_, err := actions.CreateRun(t.Context(), st, d, actions.RunRequest{Conf: conf}, now)
		var inv *actions.InvalidError
		if !errors.As(err, &inv) || inv.Field != "conf" || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("conf %q: %v, want an invalid conf naming NUL", conf, err)
		}
	}
	if _, err := actions.CreateRun(t.Context(), st, d, actions.RunRequest{Conf: map[string]any{"note": "ok"}}, now); err != nil {
		t.Fatal(err)
	}
}

func TestBackfillRange(t *testing.T) {
	st, d := setup(t, chainYAML)
	from, to := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := actions.Backfill(t.Context(), st, d, from, to, nil, now)
	var inv *actions.InvalidError
	if !errors.As(err, &inv) || inv.Field != "to" || !strings.Contains(err.Error(), "ends (2026-01-01T00:00:00Z) before it starts") {
		t.Errorf("reversed range: %v", err)
	}
	if _, err := actions.Backfill(t.Context(), st, d, from, from, map[string]any{"x": "\x00"}, now); !errors.Is(err, actions.ErrInvalid) {
		t.Errorf("conf with NUL: %v", err)
	}
}

// TestBackfillStopsWhereTheScheduleDoes: a leap-day schedule skips eight
// years after Feb 29 2096 (2100 is no leap year). robfig/cron gave up
// looking five years ahead there, the interval had no end, and the
// backfill went on from the zero time, year 1, forever; it must end at
// --to with every leap day in the range.
func TestBackfillStopsWhereTheScheduleDoes(t *testing.T) {
	st, d := setup(t, strings.Replace(chainYAML, `"@daily"`, `"0 0 29 2 *"`, 1))
	from, to := time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2110, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	runs, err := actions.Backfill(ctx, st, d, from, to, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, r := range runs {
		dates = append(dates, r.LogicalDate.Format(time.DateOnly))
	}
	if got := strings.Join(dates, " "); got != "2092-02-29 2096-02-29 2104-02-29 2108-02-29" {
		t.Errorf("backfill runs %s", got)
	}
}

func openStore(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}
