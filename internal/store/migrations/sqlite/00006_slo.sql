-- +goose Up
-- Requests and server errors (5xx) of the API and the dashboard per UTC day
-- ("YYYY-MM-DD"), for the status page's 30-day SLO error budget. Each web
-- process counts in memory and adds its counts every minute, so replicas
-- add up.
CREATE TABLE slo_daily (
    day      TEXT PRIMARY KEY,
    requests INTEGER NOT NULL DEFAULT 0,
    errors   INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE slo_daily;
