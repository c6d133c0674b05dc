-- Sirocco schema, version 4 (SQLite): a per-row write counter on task
-- instances. Every update adds one, so whoever holds two copies of a row
-- (the scheduler: one its own write returned, one the executor reported,
-- one from the change feed) keeps the newer one whatever order they came in.

ALTER TABLE task_instances ADD COLUMN row_version INTEGER NOT NULL DEFAULT 0;
