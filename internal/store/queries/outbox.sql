-- name: InsertOutbox :exec
INSERT INTO outbox (queue, payload, headers, created_at) VALUES ($1, $2, $3, $4);

-- name: PendingOutbox :many
SELECT * FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1;

-- name: MarkOutboxPublished :exec
UPDATE outbox SET published_at = $1 WHERE id = $2;

-- name: PurgeOutbox :execrows
DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1;

-- name: OutboxPendingCount :one
SELECT COUNT(*) FROM outbox WHERE published_at IS NULL;

-- name: OldestPendingOutbox :one
SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1;
