-- Sirocco schema (SQLite): data-aware scheduling. assets are the URIs that
-- had events; asset_events records each update (by a task's success, once
-- per task instance, try and URI; or by hand); asset_dag_run_queue holds,
-- per consuming DAG, the events it has not consumed yet (Airflow's
-- asset_dag_run_queue, here one row per event); dag_run_asset_events links
-- an asset-triggered run to the events it consumed.

CREATE TABLE assets (
    uri        TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE asset_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    uri            TEXT    NOT NULL REFERENCES assets (uri),
    extra          TEXT    NOT NULL,
    source_dag_id  TEXT    NOT NULL,
    source_run_id  TEXT    NOT NULL,
    source_task_id TEXT    NOT NULL,
    source_try     INTEGER NOT NULL,
    timestamp      INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX asset_events_source ON asset_events (source_dag_id, source_run_id, source_task_id, source_try, uri)
    WHERE source_task_id <> '';
CREATE INDEX asset_events_uri ON asset_events (uri, id);

CREATE TABLE asset_dag_run_queue (
    target_dag_id TEXT    NOT NULL,
    event_id      INTEGER NOT NULL REFERENCES asset_events (id) ON DELETE CASCADE,
    uri           TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (target_dag_id, event_id)
) STRICT;

CREATE TABLE dag_run_asset_events (
    dag_id   TEXT    NOT NULL,
    run_id   TEXT    NOT NULL,
    event_id INTEGER NOT NULL REFERENCES asset_events (id) ON DELETE CASCADE,
    PRIMARY KEY (dag_id, run_id, event_id),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
) STRICT;
