-- Sirocco schema, version 1 (PostgreSQL).
-- Times are timestamptz (microsecond precision); NULL is the zero time.

CREATE TABLE dags (
    dag_id      text        NOT NULL PRIMARY KEY,
    is_paused   boolean     NOT NULL DEFAULT false,
    fileloc     text        NOT NULL DEFAULT '',
    last_parsed timestamptz
);

CREATE TABLE import_errors (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fileloc    text        NOT NULL,
    message    text        NOT NULL,
    created_at timestamptz
);

CREATE TABLE dag_runs (
    dag_id              text        NOT NULL,
    run_id              text        NOT NULL,
    run_type            text        NOT NULL,
    state               text        NOT NULL,
    logical_date        timestamptz,
    data_interval_start timestamptz,
    data_interval_end   timestamptz,
    conf                jsonb,
    queued_at           timestamptz,
    start_date          timestamptz,
    end_date            timestamptz,
    PRIMARY KEY (dag_id, run_id),
    UNIQUE (dag_id, logical_date)
);

CREATE INDEX dag_runs_state ON dag_runs (state);

CREATE TABLE task_instances (
    dag_id          text        NOT NULL,
    run_id          text        NOT NULL,
    task_id         text        NOT NULL,
    seq             integer     NOT NULL,
    state           text        NOT NULL DEFAULT '',
    try_number      integer     NOT NULL DEFAULT 0,
    max_tries       integer     NOT NULL DEFAULT 0,
    pool            text        NOT NULL DEFAULT '',
    pool_slots      integer     NOT NULL DEFAULT 1,
    priority_weight integer     NOT NULL DEFAULT 1,
    queue           text        NOT NULL DEFAULT '',
    queued_at       timestamptz,
    start_date      timestamptz,
    end_date        timestamptz,
    next_retry_at   timestamptz,
    hostname        text        NOT NULL DEFAULT '',
    worker_id       text        NOT NULL DEFAULT '',
    heartbeat_at    timestamptz,
    handle          bytea,
    rendered        bytea,
    PRIMARY KEY (dag_id, run_id, task_id),
    UNIQUE (dag_id, run_id, seq),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
);

CREATE INDEX task_instances_state ON task_instances (state);
CREATE INDEX task_instances_running_worker ON task_instances (worker_id) WHERE state = 'running';

CREATE TABLE xcoms (
    dag_id  text NOT NULL,
    run_id  text NOT NULL,
    task_id text NOT NULL,
    key     text NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (dag_id, run_id, task_id, key),
    FOREIGN KEY (dag_id, run_id, task_id)
        REFERENCES task_instances (dag_id, run_id, task_id) ON DELETE CASCADE
);

CREATE TABLE pools (
    name        text    NOT NULL PRIMARY KEY,
    slots       integer NOT NULL,
    description text    NOT NULL DEFAULT ''
);

INSERT INTO pools (name, slots, description) VALUES ('default_pool', 128, 'Default pool');

CREATE TABLE variables (
    key         text NOT NULL PRIMARY KEY,
    val         text NOT NULL,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE workers (
    id           text        NOT NULL PRIMARY KEY,
    kind         text        NOT NULL DEFAULT '',
    hostname     text        NOT NULL DEFAULT '',
    pid          integer     NOT NULL DEFAULT 0,
    started_at   timestamptz,
    heartbeat_at timestamptz
);
