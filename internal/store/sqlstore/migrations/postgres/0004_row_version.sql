-- Sirocco schema, version 4 (PostgreSQL): a per-row write counter on task
-- instances. Every update adds one, so whoever holds two copies of a row
-- (the scheduler: one its own write returned, one the executor reported,
-- one from the change feed) keeps the newer one whatever order they came in.
-- Transaction ids (change_seq) cannot tell: they are handed out at a
-- transaction's start, not in commit order. A constant default does not
-- rewrite the table.

ALTER TABLE task_instances ADD COLUMN row_version bigint NOT NULL DEFAULT 0;
