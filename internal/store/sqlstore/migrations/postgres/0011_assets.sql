-- Sirocco schema (PostgreSQL): data-aware scheduling. assets are the URIs
-- that had events; asset_events records each update (by a task's success,
-- once per task instance, try and URI; or by hand); asset_dag_run_queue
-- holds, per consuming DAG, the events it has not consumed yet (Airflow's
-- asset_dag_run_queue, here one row per event); dag_run_asset_events links
-- an asset-triggered run to the events it consumed.

CREATE TABLE assets (
    uri        text        NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL
);

CREATE TABLE asset_events (
    id             bigserial   PRIMARY KEY,
    uri            text        NOT NULL REFERENCES assets (uri),
    extra          text        NOT NULL,
    source_dag_id  text        NOT NULL,
    source_run_id  text        NOT NULL,
    source_task_id text        NOT NULL,
    source_try     integer     NOT NULL,
    timestamp      timestamptz NOT NULL
);

CREATE UNIQUE INDEX asset_events_source ON asset_events (source_dag_id, source_run_id, source_task_id, source_try, uri)
    WHERE source_task_id <> '';
CREATE INDEX asset_events_uri ON asset_events (uri, id);

CREATE TABLE asset_dag_run_queue (
    target_dag_id text        NOT NULL,
    event_id      bigint      NOT NULL REFERENCES asset_events (id) ON DELETE CASCADE,
    uri           text        NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (target_dag_id, event_id)
);

CREATE TABLE dag_run_asset_events (
    dag_id   text   NOT NULL,
    run_id   text   NOT NULL,
    event_id bigint NOT NULL REFERENCES asset_events (id) ON DELETE CASCADE,
    PRIMARY KEY (dag_id, run_id, event_id),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
);
