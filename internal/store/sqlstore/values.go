package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// tv encodes t for the dialect: NULL for the zero time, otherwise UTC
// truncated to the microsecond (the precision both backends keep), as
// unix microseconds on SQLite and as a time.Time for timestamptz.
func (s *Store) tv(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if s.pg {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UnixMicro()
}

// tp encodes an optional time from an update: callers only pass non-nil.
func (s *Store) tp(t *time.Time) any { return s.tv(*t) }

// timeCol scans a time column of either dialect into a UTC time.Time, NULL
// giving the zero time.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	return nil
}

// tc wraps a destination time for Scan.
func tc(t *time.Time) timeCol { return timeCol{t} }

// blob encodes a byte slice, nil becoming NULL.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// encodeConf turns a run's conf into JSON text; a nil map is NULL.
func encodeConf(conf map[string]any) (any, error) {
	if conf == nil {
		return nil, nil
	}
	b, err := json.Marshal(conf)
	if err != nil {
		return nil, fmt.Errorf("encode conf: %w", err)
	}
	return string(b), nil
}

// decodeConf is the inverse of encodeConf.
func decodeConf(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var conf map[string]any
	if err := json.Unmarshal(b, &conf); err != nil {
		return nil, fmt.Errorf("decode conf: %w", err)
	}
	return conf, nil
}

// maxCachedStmts bounds the statement cache: the store issues a few dozen
// distinct statements, so the bound only guards against a runaway caller.
const maxCachedStmts = 256

type stmtKey struct {
	db    *sql.DB
	query string
}

// stmtCache keeps prepared statements for SQLite, where preparing costs a
// parse on every call. PostgreSQL needs none: pgx caches prepared statements
// per connection by itself.
type stmtCache struct {
	enabled bool
	mu      sync.RWMutex
	m       map[stmtKey]*sql.Stmt
	closed  bool
}

// get returns a prepared statement for query on db, or nil when caching is
// off or preparing failed; callers then run the query unprepared, which
// reports any error the prepare would have.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	if !c.enabled {
		return nil
	}
	k := stmtKey{db, query}
	c.mu.RLock()
	st, ok := c.m[k]
	full := len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[k]; ok || c.closed {
		st.Close()
		return prev
	}
	if c.m == nil {
		c.m = make(map[stmtKey]*sql.Stmt)
	}
	c.m[k] = st
	return st
}

// close closes every cached statement; later gets return nil.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for _, st := range c.m {
		err = errors.Join(err, st.Close())
	}
	c.m = nil
	c.closed = true
	return err
}

// mapCol scans a map_index column into a TaskKey.Map (map index + 1), so
// that -1, a task that is not mapped, becomes the zero Map.
type mapCol struct{ dst *int }

// Scan implements sql.Scanner.
func (m mapCol) Scan(v any) error {
	switch n := v.(type) {
	case int64:
		*m.dst = int(n) + 1
	case int32:
		*m.dst = int(n) + 1
	default:
		return fmt.Errorf("map_index: want an integer, got %T", v)
	}
	return nil
}
