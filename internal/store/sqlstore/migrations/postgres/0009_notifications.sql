-- Sirocco schema (PostgreSQL): the outbox of callbacks and deadline
-- alerts. One row per (task instance or run, try, event, notifier): written
-- once when the scheduler sees the state change that causes it, then
-- claimed and delivered by a worker, so a notification survives a restart
-- and is sent once.

CREATE TABLE notifications (
    dag_id      text        NOT NULL,
    run_id      text        NOT NULL,
    task_id     text        NOT NULL,
    try_number  integer     NOT NULL,
    event       text        NOT NULL,
    idx         integer     NOT NULL,
    state       text        NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    attempts    integer     NOT NULL DEFAULT 0,
    next_at     timestamptz,
    created_at  timestamptz,
    lease_end   timestamptz,
    claimed_by  text        NOT NULL DEFAULT '',
    last_error  text        NOT NULL DEFAULT '',
    sent_at     timestamptz,
    PRIMARY KEY (dag_id, run_id, task_id, try_number, event, idx),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
);

CREATE INDEX notifications_due ON notifications (state, next_at);
