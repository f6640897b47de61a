-- +goose Up
-- REST API keys. Only a SHA-256 of the secret is kept: the key is shown once.
-- The prefix (public, unique) finds the row; guild_id NULL means every guild.
CREATE TABLE api_keys (
    id           BIGSERIAL PRIMARY KEY,
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  TEXT NOT NULL,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    guild_id     BIGINT,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

-- Idempotency-Key records: the row is inserted before the operation runs (the
-- unique index makes a concurrent duplicate fail), status stays 0 while the
-- operation is in flight, then holds the response to replay until expires_at.
CREATE TABLE idempotency_keys (
    id           BIGSERIAL PRIMARY KEY,
    api_key_id   BIGINT NOT NULL,
    route        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    response     TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys_scope ON idempotency_keys (api_key_id, route, idem_key);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys, api_keys;
