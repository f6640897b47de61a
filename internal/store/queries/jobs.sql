-- InsertBusJob enqueues a job of the database bus (internal/bus/dbbus).
-- The settlements below name the delivery (id and lease) they end, so one
-- whose lease expired changes nothing.
-- name: InsertBusJob :one
INSERT INTO bus_jobs (queue, payload, headers, state, due_at, created_at)
VALUES (@queue, @payload, @headers, 'ready', @now, @now)
RETURNING id;

-- ClaimBusJobs is the claim on SQLite (one writer); PostgreSQL runs the
-- same statement with FOR UPDATE SKIP LOCKED in the subquery (dbbus). The
-- conditions are repeated outside the subquery so that a row another
-- statement claimed meanwhile is skipped, not claimed twice. Running jobs
-- whose lease expired are claimed like ready ones.
-- name: ClaimBusJobs :many
UPDATE bus_jobs SET state = 'running', attempt = attempt + 1, lease = @lease, due_at = @lease_until
WHERE id IN (
    SELECT j.id FROM bus_jobs j
    WHERE j.queue = @queue AND j.state <> 'dead' AND j.due_at <= @now
    ORDER BY j.due_at, j.id LIMIT @max_jobs
) AND state <> 'dead' AND due_at <= @now
RETURNING id, queue, payload, headers, attempt;

-- name: DeadLetterExpiredBusJobs :execrows
UPDATE bus_jobs SET state = 'dead', lease = '', last_error = @last_error, due_at = @now
WHERE queue = @queue AND state = 'running' AND due_at <= @now AND attempt >= @max_attempts;

-- name: ExtendBusJobLease :execrows
UPDATE bus_jobs SET due_at = @lease_until WHERE id = @id AND lease = @lease AND state = 'running';

-- name: AckBusJob :execrows
DELETE FROM bus_jobs WHERE id = @id AND lease = @lease AND state = 'running';

-- RequeueBusJob schedules another delivery; uncount is 1 for a delivery
-- that was interrupted by shutdown and does not count as an attempt.
-- name: RequeueBusJob :execrows
UPDATE bus_jobs SET state = 'ready', lease = '', due_at = @due_at, attempt = attempt - @uncount
WHERE id = @id AND lease = @lease AND state = 'running';

-- name: BuryBusJob :execrows
UPDATE bus_jobs SET state = 'dead', lease = '', last_error = @last_error, due_at = @now
WHERE id = @id AND lease = @lease AND state = 'running';

-- name: BusDeadLetters :many
SELECT id, queue, payload, headers, attempt, last_error FROM bus_jobs
WHERE queue = @queue AND state = 'dead'
ORDER BY due_at, id LIMIT @max_jobs;

-- name: RedriveBusJobs :execrows
UPDATE bus_jobs SET state = 'ready', attempt = 0, last_error = '', lease = '', due_at = @now
WHERE queue = @queue AND state = 'dead';

-- name: BusQueueStats :one
SELECT
    CAST(COALESCE(SUM(CASE WHEN state = 'ready' AND due_at <= @now THEN 1 ELSE 0 END), 0) AS BIGINT) AS ready,
    CAST(COALESCE(SUM(CASE WHEN state = 'ready' AND due_at > @now THEN 1 ELSE 0 END), 0) AS BIGINT) AS delayed,
    CAST(COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS BIGINT) AS in_flight,
    CAST(COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) AS dead
FROM bus_jobs WHERE queue = @queue;

-- name: OldestReadyBusJob :one
SELECT due_at FROM bus_jobs
WHERE queue = @queue AND state = 'ready' AND due_at <= @now
ORDER BY due_at, id LIMIT 1;

-- NextBusJobDue is when the queue's next job becomes deliverable (a ready
-- job, a retry, or a lease that expires): a consumer sleeps until then.
-- name: NextBusJobDue :one
SELECT due_at FROM bus_jobs WHERE queue = @queue AND state <> 'dead'
ORDER BY due_at, id LIMIT 1;
