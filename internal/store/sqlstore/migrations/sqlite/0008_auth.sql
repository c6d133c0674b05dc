-- Sirocco schema, version 8 (SQLite): users, their credentials and the
-- audit log. password_hash is a PHC string (argon2id) made by package
-- auth; token_hash is the SHA-256 of a token's secret, never the secret.
-- A user's tokens go with the user.

CREATE TABLE users (
    username      TEXT    NOT NULL PRIMARY KEY,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER,
    updated_at    INTEGER
) STRICT;

CREATE TABLE auth_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    username   TEXT    NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER,
    expires_at INTEGER
) STRICT;

CREATE INDEX auth_tokens_user ON auth_tokens (username, kind);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE event_logs (
    id       INTEGER NOT NULL PRIMARY KEY,
    happened INTEGER NOT NULL,
    owner    TEXT    NOT NULL DEFAULT '',
    event    TEXT    NOT NULL,
    dag_id   TEXT    NOT NULL DEFAULT '',
    run_id   TEXT    NOT NULL DEFAULT '',
    task_id  TEXT    NOT NULL DEFAULT '',
    extra    TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX event_logs_dag ON event_logs (dag_id, id);
CREATE INDEX event_logs_owner ON event_logs (owner, id);
