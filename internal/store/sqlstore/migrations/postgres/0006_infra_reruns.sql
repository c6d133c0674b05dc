-- Sirocco schema, version 5 (PostgreSQL): how many tries of a task instance
-- Sirocco's own shutdown stopped and gave back without spending a retry
-- (each also raised max_tries by one). It caps those free re-runs, so a
-- task that stops Sirocco cannot run forever; a clear sets it back to 0.

ALTER TABLE task_instances ADD COLUMN infra_reruns integer NOT NULL DEFAULT 0;
