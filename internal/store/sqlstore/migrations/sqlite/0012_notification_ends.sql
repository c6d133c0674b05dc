-- Sirocco schema (SQLite): callbacks once per end.
-- dag_runs.clear_number counts the clears that put a finished run back to
-- queued (Airflow 3's dag_run.clear_number): a run's own notifications
-- (on_success/on_failure_callback, its deadline alert) are keyed by it, so
-- a cleared run that ends again notifies again, once per end.
-- notifications_one_end lets a task's try have one end event only
-- (success, failure or retry): two schedulers, or a try marked by hand
-- after its callbacks were sent, never notify a second end of the same try.
-- Rows that already break it (a second end of a try) are dropped first.

ALTER TABLE dag_runs ADD COLUMN clear_number INTEGER NOT NULL DEFAULT 0;

DELETE FROM notifications
WHERE task_id <> '' AND event IN ('success', 'failure', 'retry') AND EXISTS (
    SELECT 1 FROM notifications o
    WHERE o.dag_id = notifications.dag_id AND o.run_id = notifications.run_id
      AND o.task_id = notifications.task_id AND o.try_number = notifications.try_number
      AND o.idx = notifications.idx AND o.event IN ('success', 'failure', 'retry')
      AND o.event <> notifications.event
      AND (o.created_at < notifications.created_at
           OR (o.created_at = notifications.created_at AND o.event < notifications.event)));

CREATE UNIQUE INDEX notifications_one_end ON notifications (dag_id, run_id, task_id, try_number, idx)
    WHERE task_id <> '' AND event IN ('success', 'failure', 'retry');
