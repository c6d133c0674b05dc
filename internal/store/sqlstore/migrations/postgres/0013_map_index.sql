-- Sirocco schema (PostgreSQL): dynamic task mapping. A mapped task has one
-- task instance per element, told apart by map_index (0, 1, ...); a task
-- that is not mapped, and a mapped task's placeholder before it expands,
-- has map_index -1, as in Airflow. map_index joins the keys of
-- task_instances, xcoms and notifications, and asset events record the
-- map index of the instance that made them.

ALTER TABLE xcoms DROP CONSTRAINT xcoms_dag_id_run_id_task_id_fkey;
ALTER TABLE xcoms DROP CONSTRAINT xcoms_pkey;
ALTER TABLE task_instances DROP CONSTRAINT task_instances_pkey;
ALTER TABLE task_instances DROP CONSTRAINT task_instances_dag_id_run_id_seq_key;

ALTER TABLE task_instances ADD COLUMN map_index integer NOT NULL DEFAULT -1;
ALTER TABLE task_instances ADD PRIMARY KEY (dag_id, run_id, task_id, map_index);
ALTER TABLE task_instances ADD CONSTRAINT task_instances_dag_id_run_id_seq_key UNIQUE (dag_id, run_id, seq, map_index);

ALTER TABLE xcoms ADD COLUMN map_index integer NOT NULL DEFAULT -1;
ALTER TABLE xcoms ADD PRIMARY KEY (dag_id, run_id, task_id, map_index, key);
ALTER TABLE xcoms ADD CONSTRAINT xcoms_dag_id_run_id_task_id_fkey FOREIGN KEY (dag_id, run_id, task_id, map_index)
    REFERENCES task_instances (dag_id, run_id, task_id, map_index) ON DELETE CASCADE;

ALTER TABLE notifications DROP CONSTRAINT notifications_pkey;
ALTER TABLE notifications ADD COLUMN map_index integer NOT NULL DEFAULT -1;
ALTER TABLE notifications ADD PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number, event, idx);
-- One end event per try (0012), now per instance's try.
DROP INDEX notifications_one_end;
CREATE UNIQUE INDEX notifications_one_end ON notifications (dag_id, run_id, task_id, map_index, try_number, idx)
    WHERE task_id <> '' AND event IN ('success', 'failure', 'retry');

ALTER TABLE asset_events ADD COLUMN source_map_index integer NOT NULL DEFAULT -1;
DROP INDEX asset_events_source;
CREATE UNIQUE INDEX asset_events_source ON asset_events (source_dag_id, source_run_id, source_task_id, source_map_index, source_try, uri)
    WHERE source_task_id <> '';
