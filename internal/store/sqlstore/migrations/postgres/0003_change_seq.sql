-- Sirocco schema, version 3 (PostgreSQL): the id of the transaction that
-- last wrote each task instance, so the scheduler reads only the rows
-- written since its last look. Transactions commit out of id order, so a
-- reader remembers the oldest transaction still running when it looked
-- (pg_snapshot_xmin) and next reads every row written by that one or a
-- newer one: nothing committed late is missed.

ALTER TABLE task_instances ADD COLUMN change_seq xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE INDEX task_instances_change_seq ON task_instances (change_seq);

-- No query looks task instances up by state alone, and PostgreSQL's planner
-- picked this index over the primary key for conditional updates
-- ("... WHERE key AND state IN (...)"), filtering every row in that state.
DROP INDEX task_instances_state;
