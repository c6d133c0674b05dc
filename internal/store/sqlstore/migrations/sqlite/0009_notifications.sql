-- Sirocco schema (SQLite): the outbox of callbacks and deadline alerts.
-- One row per (task instance or run, try, event, notifier): written once
-- when the scheduler sees the state change that causes it, then claimed
-- and delivered by a worker, so a notification survives a restart and is
-- sent once.

CREATE TABLE notifications (
    dag_id      TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
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
    PRIMARY KEY (dag_id, run_id, task_id, try_number, event, idx),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX notifications_due ON notifications (state, next_at);
