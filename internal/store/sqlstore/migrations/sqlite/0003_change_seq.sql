-- Sirocco schema, version 3 (SQLite): a change sequence on task instances,
-- so the scheduler reads only the rows written since its last look instead
-- of every active row on each tick. Every write sets change_seq to the
-- table's maximum plus one; SQLite serialises writers, so commit order is
-- sequence order and "change_seq > last seen" misses nothing.

ALTER TABLE task_instances ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE INDEX task_instances_change_seq ON task_instances (change_seq);

-- No query looks task instances up by state alone, and PostgreSQL's planner
-- picked this index over the primary key for conditional updates
-- ("... WHERE key AND state IN (...)"), filtering every row in that state.
DROP INDEX task_instances_state;
