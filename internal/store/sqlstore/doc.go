// Package sqlstore implements store.Store once, over database/sql, for both
// SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx). The two
// backends share nearly all of their SQL: queries are written with `?`
// placeholders and rebound to `$1..$n` for PostgreSQL, and upserts use
// INSERT ... ON CONFLICT, which both understand. What differs lives in the
// per-dialect migrations and in how values are encoded:
//
//	                 SQLite                        PostgreSQL
//	times            INTEGER unix microseconds     timestamptz
//	zero time        NULL                          NULL
//	booleans         INTEGER 0/1                   boolean
//	run conf         TEXT (JSON)                   jsonb
//	handle/rendered  BLOB                          bytea
//
// Times are always written in UTC, truncated to the microsecond, and read
// back in UTC, so a value round-trips identically on both backends.
//
// # Concurrency
//
// Every state change is a single conditional UPDATE (WHERE ... AND state IN
// (...)), so a transition is won by exactly one caller without explicit
// locks. On SQLite the Store keeps two pools on the same WAL database: one
// writer connection, so that writers in this process queue in Go instead of
// failing with SQLITE_BUSY, and several read-only connections, which WAL lets
// proceed while a write is in progress. Write transactions begin IMMEDIATE so
// that another process sharing the file waits on busy_timeout (5s) instead of
// failing on a lock upgrade. (Measured with 8 goroutines writing at once: a
// pool of 4 writer connections gave the same throughput and no errors, but
// 2-4x the worst-case latency of the single writer.)
//
// Statements are prepared once and reused: by a cache in the Store on
// SQLite, where modernc parses unprepared SQL on every call, and by pgx's
// per-connection statement cache on PostgreSQL. SQLite's task transitions,
// the hand-off's critical path, skip database/sql: they run as driver
// statements on the writer connection, BEGIN and COMMIT included
// (rawwrite.go).
//
// # Notifications
//
// Store.Notify and Store.Watch use LISTEN/NOTIFY on PostgreSQL and, on
// SQLite, one small file per handle in <database>-wake/ that Notify rewrites
// and Watch watches with inotify (wake.go).
//
// # Migrations
//
// The schema is versioned by numbered files embedded from
// migrations/<dialect>/NNNN_name.sql and recorded in schema_migrations.
// Migrate applies each pending file in its own transaction; on PostgreSQL
// the transaction first takes pg_advisory_xact_lock, on SQLite the IMMEDIATE
// transaction holds the database's write lock, so two processes migrating at
// once apply every file exactly once.
package sqlstore
