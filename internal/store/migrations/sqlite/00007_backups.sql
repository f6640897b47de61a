-- +goose Up
-- One row per run of "smarterdev backup", successful or not (internal/backup):
-- the status page shows the last one, /metrics the time of the last success
-- (smarterdev_backup_last_success_timestamp_seconds) and the worker's
-- built-in alerting raises BackupTooOld from it. sha256 is the hex digest of
-- the file, also written beside it as FILE.sha256.
CREATE TABLE backups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    path        TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL DEFAULT 0,
    sha256      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX backups_status ON backups (status, id DESC);

-- +goose Down
DROP TABLE backups;
