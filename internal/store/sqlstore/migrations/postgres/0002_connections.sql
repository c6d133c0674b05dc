-- Sirocco schema, version 2 (PostgreSQL): connections, as Airflow's.
-- password and extra hold ciphertext made by package connection ('' when
-- absent); the store never sees them in clear. port 0 means none.

CREATE TABLE connections (
    conn_id     text    NOT NULL PRIMARY KEY,
    conn_type   text    NOT NULL,
    description text    NOT NULL DEFAULT '',
    host        text    NOT NULL DEFAULT '',
    port        integer NOT NULL DEFAULT 0,
    login       text    NOT NULL DEFAULT '',
    password    text    NOT NULL DEFAULT '',
    schema      text    NOT NULL DEFAULT '',
    extra       text    NOT NULL DEFAULT ''
);
