-- Sirocco schema, version 9 (SQLite): a reschedule-mode sensor's progress
-- across its reschedules, as Airflow's task_reschedule rows keep it: when
-- the first poke of its try started (its timeout counts from there) and
-- how many pokes it has made (its exponential backoff grows with them).
-- Its wake time is next_retry_at; a clear resets both columns.

ALTER TABLE task_instances ADD COLUMN first_poke_at INTEGER;
ALTER TABLE task_instances ADD COLUMN pokes INTEGER NOT NULL DEFAULT 0;
