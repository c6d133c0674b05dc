package actions

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// MaxRunIDLen bounds a run id a user chooses: Airflow's run_id column is
// 250 characters.
const MaxRunIDLen = 250

// runIDChars are the characters of Airflow's default allowed_run_id_pattern,
// ^[A-Za-z0-9_.~:+-]+$: enough for "manual__2026-01-02T03:04:05+00:00",
// and nothing a path, a shell or a URL treats specially.
const runIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~:+-"

// reservedPrefixes are the run ids Sirocco makes itself for runs it
// creates (RunID in the scheduler): a manual run taking one would be
// mistaken for the scheduled or backfill run of that date, which then
// would never be created. Airflow 3 refuses them the same way. test__
// names the runs of `dags test`, which schedulers leave to that process.
var reservedPrefixes = []store.RunType{store.RunScheduled, store.RunBackfill, store.RunTest}

// CheckRunID reports why id cannot be the id of a new run of type typ: it
// is empty or longer than MaxRunIDLen, has a character outside letters,
// digits and "_.~:+-", is only dots, or starts like the ids Sirocco gives
// scheduled and backfill runs. Runs stored before these rules keep their
// ids; only new ones are checked.
func CheckRunID(id string, typ store.RunType) error {
	switch {
	case id == "":
		return invalidf("dag_run_id", "the run id is empty")
	case len(id) > MaxRunIDLen:
		return invalidf("dag_run_id", "run id %s has %d characters; at most %d are allowed",
			quoteShort(id), utf8.RuneCountInString(id), MaxRunIDLen)
	case strings.Trim(id, ".") == "":
		return invalidf("dag_run_id", "run id %q is only dots", id)
	}
	for i, r := range id {
		if !strings.ContainsRune(runIDChars, r) || r == utf8.RuneError {
			return invalidf("dag_run_id", "run id %s has %q at byte %d; use letters, digits and _ . ~ : + -",
				quoteShort(id), r, i)
		}
	}
	for _, p := range reservedPrefixes {
		if typ != p && strings.HasPrefix(id, string(p)+"__") {
			return invalidf("dag_run_id", "run id %q starts with %q, which is reserved for %s runs", id, string(p)+"__", p)
		}
	}
	return nil
}

// quoteShort quotes s, shortened to its first 40 bytes when longer, so an
// error about a huge id stays readable.
func quoteShort(s string) string {
	if len(s) <= 40 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", strings.ToValidUTF8(s[:40], ""))
}

// Logical dates are kept within the years 1 to 9999 (UTC): what both
// stores and Airflow's Python datetimes hold, and what RFC 3339 can write.
var (
	minDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// checkDate reports why t cannot be a logical date: outside the years 1 to
// 9999 in UTC, or the very first instant of year 1, which is Go's zero time
// and would be stored as "no date".
func checkDate(s string, t time.Time) error {
	switch {
	case t.Before(minDate) || t.After(maxDate):
		return fmt.Errorf("date %q is out of range: it must fall in the years 1 to 9999 (UTC)", s)
	case t.Equal(minDate):
		return fmt.Errorf("date %q is the zero time, which means no date; choose a later one", s)
	}
	return nil
}

// checkConf reports a conf the stores cannot keep as given: PostgreSQL's
// jsonb refuses the NUL character in any string or key.
func checkConf(conf map[string]any) error {
	if path, ok := findNUL(conf, "conf"); ok {
		return invalidf("conf", "%s holds the NUL character (\\u0000), which cannot be stored", path)
	}
	return nil
}

// findNUL returns the path of the first key or string in v holding NUL.
func findNUL(v any, path string) (string, bool) {
	switch v := v.(type) {
	case string:
		return path, strings.ContainsRune(v, 0)
	case map[string]any:
		for k, x := range v {
			key := fmt.Sprintf("%s[%q]", path, k)
			if strings.ContainsRune(k, 0) {
				return key, true
			}
			if p, ok := findNUL(x, key); ok {
				return p, true
			}
		}
	case []any:
		for i, x := range v {
			if p, ok := findNUL(x, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	}
	return "", false
}
