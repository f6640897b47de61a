-- +goose Up
-- Dashboard sessions. The browser holds a random 32-byte id; only its SHA-256
-- is stored, so a copy of the table cannot sign anyone in. access_token is the
-- member's Discord OAuth2 token (empty for dev sign-ins), used to re-check
-- which guilds they manage; it dies with the session.
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    username     TEXT NOT NULL DEFAULT '',
    access_token TEXT NOT NULL DEFAULT '',
    csrf_token   TEXT NOT NULL,
    dev          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
