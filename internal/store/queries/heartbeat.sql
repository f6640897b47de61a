-- name: UpsertBotHeartbeat :exec
INSERT INTO bot_heartbeats (instance, payload, updated_at)
VALUES (@instance, @payload, @updated_at)
ON CONFLICT (instance) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at;

-- name: ListBotHeartbeats :many
SELECT * FROM bot_heartbeats ORDER BY instance;

-- name: DeleteBotHeartbeatsBefore :execrows
DELETE FROM bot_heartbeats WHERE updated_at < @before;
