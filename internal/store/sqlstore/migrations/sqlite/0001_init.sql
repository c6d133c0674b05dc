-- Sirocco schema, version 1 (SQLite).
-- Times are INTEGER unix microseconds in UTC; NULL is the zero time.
-- Booleans are INTEGER 0/1. STRICT tables reject values of the wrong type.

CREATE TABLE dags (
    dag_id      TEXT    NOT NULL PRIMARY KEY,
    is_paused   INTEGER NOT NULL DEFAULT 0,
    fileloc     TEXT    NOT NULL DEFAULT '',
    last_parsed INTEGER
) STRICT;

CREATE TABLE import_errors (
    id         INTEGER NOT NULL PRIMARY KEY,
    fileloc    TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    created_at INTEGER
) STRICT;

CREATE TABLE dag_runs (
    dag_id              TEXT    NOT NULL,
    run_id              TEXT    NOT NULL,
    run_type            TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    logical_date        INTEGER,
    data_interval_start INTEGER,
    data_interval_end   INTEGER,
    conf                TEXT,
    queued_at           INTEGER,
    start_date          INTEGER,
    end_date            INTEGER,
    PRIMARY KEY (dag_id, run_id),
    UNIQUE (dag_id, logical_date)
) STRICT;

CREATE INDEX dag_runs_state ON dag_runs (state);

CREATE TABLE task_instances (
    dag_id          TEXT    NOT NULL,
    run_id          TEXT    NOT NULL,
    task_id         TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT '',
    try_number      INTEGER NOT NULL DEFAULT 0,
    max_tries       INTEGER NOT NULL DEFAULT 0,
    pool            TEXT    NOT NULL DEFAULT '',
    pool_slots      INTEGER NOT NULL DEFAULT 1,
    priority_weight INTEGER NOT NULL DEFAULT 1,
    queue           TEXT    NOT NULL DEFAULT '',
    queued_at       INTEGER,
    start_date      INTEGER,
    end_date        INTEGER,
    next_retry_at   INTEGER,
    hostname        TEXT    NOT NULL DEFAULT '',
    worker_id       TEXT    NOT NULL DEFAULT '',
    heartbeat_at    INTEGER,
    handle          BLOB,
    rendered        BLOB,
    PRIMARY KEY (dag_id, run_id, task_id),
    UNIQUE (dag_id, run_id, seq),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX task_instances_state ON task_instances (state);
CREATE INDEX task_instances_running_worker ON task_instances (worker_id) WHERE state = 'running';

CREATE TABLE xcoms (
    dag_id  TEXT NOT NULL,
    run_id  TEXT NOT NULL,
    task_id TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id, task_id, key),
    FOREIGN KEY (dag_id, run_id, task_id)
        REFERENCES task_instances (dag_id, run_id, task_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE pools (
    name        TEXT    NOT NULL PRIMARY KEY,
    slots       INTEGER NOT NULL,
    description TEXT    NOT NULL DEFAULT ''
) STRICT;

INSERT INTO pools (name, slots, description) VALUES ('default_pool', 128, 'Default pool');

CREATE TABLE variables (
    key         TEXT NOT NULL PRIMARY KEY,
    val         TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE workers (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL DEFAULT '',
    hostname     TEXT    NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER,
    heartbeat_at INTEGER
) STRICT;
