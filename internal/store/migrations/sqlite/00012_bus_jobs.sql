-- +goose Up
-- Durable jobs of the database bus (internal/bus/dbbus), used when no Redis
-- is configured, so queued, retrying and dead-lettered jobs survive a crash
-- or restart. state is 'ready' (due_at: deliverable from then), 'running'
-- (due_at: the lease expires then, and another consumer may take the job) or
-- 'dead' (due_at: when it died). lease names the current delivery, so a late
-- settlement of an expired one changes nothing. Acknowledged jobs are deleted.
CREATE TABLE bus_jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    headers    TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL CHECK (state IN ('ready', 'running', 'dead')),
    attempt    INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    lease      TEXT NOT NULL DEFAULT '',
    due_at     TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- Claiming and a consumer's next wake-up take a queue's live jobs by due
-- time; dead letters, expired leases and stats go by state.
CREATE INDEX bus_jobs_due ON bus_jobs (queue, due_at, id) WHERE state <> 'dead';
CREATE INDEX bus_jobs_state ON bus_jobs (queue, state, due_at, id);

-- +goose Down
DROP TABLE bus_jobs;
