-- Sirocco schema, version 3 (SQLite): a change sequence on task instances,
-- so the scheduler reads only the rows written since its last look instead
-- of every active row on each tick. Every write sets change_seq to the
-- table's maximum plus one; SQLite serialises writers, so commit order is
-- sequence order and "change_seq > last seen" misses nothing.

ALTER TABLE task_instances ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE INDEX task_instances_change_seq ON task_instances (change_seq);

-- No query looks task instances up by state alone; dropping the index saves
-- its upkeep on every transition (PostgreSQL's migration drops it too, where
-- the planner even preferred it to the primary key for conditional updates).
DROP INDEX task_instances_state;
