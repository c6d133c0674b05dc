-- Sirocco schema, version 8 (PostgreSQL): users, their credentials and the
-- audit log. password_hash is a PHC string (argon2id) made by package
-- auth; token_hash is the SHA-256 of a token's secret, never the secret.
-- A user's tokens go with the user.

CREATE TABLE users (
    username      text        NOT NULL PRIMARY KEY,
    role          text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz
);

CREATE TABLE auth_tokens (
    id         text        NOT NULL PRIMARY KEY,
    token_hash text        NOT NULL UNIQUE,
    username   text        NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    kind       text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    created_at timestamptz,
    expires_at timestamptz
);

CREATE INDEX auth_tokens_user ON auth_tokens (username, kind);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE event_logs (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    happened timestamptz NOT NULL,
    owner    text        NOT NULL DEFAULT '',
    event    text        NOT NULL,
    dag_id   text        NOT NULL DEFAULT '',
    run_id   text        NOT NULL DEFAULT '',
    task_id  text        NOT NULL DEFAULT '',
    extra    text        NOT NULL DEFAULT ''
);

CREATE INDEX event_logs_dag ON event_logs (dag_id, id);
CREATE INDEX event_logs_owner ON event_logs (owner, id);
