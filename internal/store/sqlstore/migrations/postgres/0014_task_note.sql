-- Sirocco schema (PostgreSQL): a task instance's note, Airflow's
-- TaskInstance note: why it ended without running a try (a mapped task
-- whose list could not be read, or whose upstream failed before pushing
-- it), shown by the CLI, the API and the UI. A clear empties it.
ALTER TABLE task_instances ADD COLUMN note text NOT NULL DEFAULT '';
