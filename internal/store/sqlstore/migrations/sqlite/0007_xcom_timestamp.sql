-- Sirocco schema, version 6 (SQLite): an XCom records when it was pushed,
-- which the API shows as Airflow's XCom timestamp. Rows pushed before keep
-- NULL (shown as null).

ALTER TABLE xcoms ADD COLUMN pushed_at INTEGER;
