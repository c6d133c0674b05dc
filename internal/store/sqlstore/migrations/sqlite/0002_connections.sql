-- Sirocco schema, version 2 (SQLite): connections, as Airflow's.
-- password and extra hold ciphertext made by package connection ('' when
-- absent); the store never sees them in clear. port 0 means none.

CREATE TABLE connections (
    conn_id     TEXT    NOT NULL PRIMARY KEY,
    conn_type   TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    host        TEXT    NOT NULL DEFAULT '',
    port        INTEGER NOT NULL DEFAULT 0,
    login       TEXT    NOT NULL DEFAULT '',
    password    TEXT    NOT NULL DEFAULT '',
    schema      TEXT    NOT NULL DEFAULT '',
    extra       TEXT    NOT NULL DEFAULT ''
) STRICT;
