-- +goose Up
-- The built-in alerting's latest report, one row per worker process that
-- evaluates it (internal/alerting): every condition's state and whether
-- each receiver took its last message. The dashboard's status page and
-- /status.json read it; payload is JSON; rows of workers silent for a day
-- are pruned.
CREATE TABLE alert_reports (
    instance   TEXT PRIMARY KEY,
    payload    TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE alert_reports;
