-- +goose Up
-- One row per bot process: what its shards are doing, written every ~10 s
-- when the deployment has no Redis (internal/botstatus). The web process
-- reads it for /readyz and /status.json, the worker for the BotDisconnected
-- alert. payload is JSON; rows of processes gone for an hour are pruned.
CREATE TABLE bot_heartbeats (
    instance   TEXT PRIMARY KEY,
    payload    TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE bot_heartbeats;
