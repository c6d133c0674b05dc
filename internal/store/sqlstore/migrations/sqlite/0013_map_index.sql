-- Sirocco schema (SQLite): dynamic task mapping. A mapped task has one
-- task instance per element, told apart by map_index (0, 1, ...); a task
-- that is not mapped, and a mapped task's placeholder before it expands,
-- has map_index -1, as in Airflow. map_index joins the keys of
-- task_instances, xcoms and notifications, and asset events record the
-- map index of the instance that made them.
--
-- SQLite cannot change a primary key: the three tables are rebuilt. The
-- new task_instances is filled first and xcoms is rebuilt against it
-- before the old task_instances is dropped, so the implicit delete of the
-- drop cascades to nothing; the renames then update the foreign key of
-- xcoms to the new table's name.

CREATE TABLE task_instances_new (
    dag_id          TEXT    NOT NULL,
    run_id          TEXT    NOT NULL,
    task_id         TEXT    NOT NULL,
    map_index       INTEGER NOT NULL DEFAULT -1,
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
    change_seq      INTEGER NOT NULL DEFAULT 0,
    row_version     INTEGER NOT NULL DEFAULT 0,
    infra_reruns    INTEGER NOT NULL DEFAULT 0,
    first_poke_at   INTEGER,
    pokes           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dag_id, run_id, task_id, map_index),
    UNIQUE (dag_id, run_id, seq, map_index),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
) STRICT;

INSERT INTO task_instances_new (dag_id, run_id, task_id, map_index, seq, state, try_number, max_tries,
    pool, pool_slots, priority_weight, queue, queued_at, start_date, end_date, next_retry_at, hostname,
    worker_id, heartbeat_at, handle, rendered, change_seq, row_version, infra_reruns, first_poke_at, pokes)
SELECT dag_id, run_id, task_id, -1, seq, state, try_number, max_tries,
    pool, pool_slots, priority_weight, queue, queued_at, start_date, end_date, next_retry_at, hostname,
    worker_id, heartbeat_at, handle, rendered, change_seq, row_version, infra_reruns, first_poke_at, pokes
FROM task_instances;

CREATE TABLE xcoms_new (
    dag_id    TEXT    NOT NULL,
    run_id    TEXT    NOT NULL,
    task_id   TEXT    NOT NULL,
    map_index INTEGER NOT NULL DEFAULT -1,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    pushed_at INTEGER,
    PRIMARY KEY (dag_id, run_id, task_id, map_index, key),
    FOREIGN KEY (dag_id, run_id, task_id, map_index)
        REFERENCES task_instances_new (dag_id, run_id, task_id, map_index) ON DELETE CASCADE
) STRICT;

INSERT INTO xcoms_new (dag_id, run_id, task_id, map_index, key, value, pushed_at)
SELECT dag_id, run_id, task_id, -1, key, value, pushed_at FROM xcoms;

DROP TABLE xcoms;
DROP TABLE task_instances;
ALTER TABLE task_instances_new RENAME TO task_instances;
ALTER TABLE xcoms_new RENAME TO xcoms;

CREATE INDEX task_instances_running_worker ON task_instances (worker_id) WHERE state = 'running';
CREATE INDEX task_instances_change_seq ON task_instances (change_seq);

CREATE TABLE notifications_new (
    dag_id      TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
    map_index   INTEGER NOT NULL DEFAULT -1,
    try_number  INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    idx         INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER,
    created_at  INTEGER,
    lease_end   INTEGER,
    claimed_by  TEXT    NOT NULL DEFAULT '',
    last_error  TEXT    NOT NULL DEFAULT '',
    sent_at     INTEGER,
    PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number, event, idx),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
) STRICT;

INSERT INTO notifications_new (dag_id, run_id, task_id, map_index, try_number, event, idx, state, reason,
    attempts, next_at, created_at, lease_end, claimed_by, last_error, sent_at)
SELECT dag_id, run_id, task_id, -1, try_number, event, idx, state, reason,
    attempts, next_at, created_at, lease_end, claimed_by, last_error, sent_at
FROM notifications;

DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (state, next_at);
-- One end event per try (0012), now per instance's try.
CREATE UNIQUE INDEX notifications_one_end ON notifications (dag_id, run_id, task_id, map_index, try_number, idx)
    WHERE task_id <> '' AND event IN ('success', 'failure', 'retry');

ALTER TABLE asset_events ADD COLUMN source_map_index INTEGER NOT NULL DEFAULT -1;
DROP INDEX asset_events_source;
CREATE UNIQUE INDEX asset_events_source ON asset_events (source_dag_id, source_run_id, source_task_id, source_map_index, source_try, uri)
    WHERE source_task_id <> '';
