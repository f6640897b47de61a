-- name: CreateAPIKey :one
INSERT INTO api_keys (prefix, secret_hash, name, scope, guild_id, created_at, expires_at)
VALUES (@prefix, @secret_hash, @name, @scope, @guild_id, @created_at, @expires_at)
RETURNING *;

-- name: GetAPIKeyByPrefix :one
SELECT * FROM api_keys WHERE prefix = $1;

-- name: ListAPIKeys :many
SELECT * FROM api_keys ORDER BY id;

-- name: RevokeAPIKey :execrows
UPDATE api_keys SET revoked_at = @now WHERE prefix = @prefix AND revoked_at IS NULL;

-- name: TouchAPIKey :exec
-- Guarded so that many processes write last_used_at at most once per interval.
UPDATE api_keys SET last_used_at = @now
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @cutoff);

-- name: InsertIdempotencyKey :one
-- Returns no row when the key is already taken.
INSERT INTO idempotency_keys (api_key_id, route, idem_key, request_hash, created_at, expires_at)
VALUES (@api_key_id, @route, @idem_key, @request_hash, @created_at, @expires_at)
ON CONFLICT (api_key_id, route, idem_key) DO NOTHING
RETURNING id;

-- name: GetIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE api_key_id = @api_key_id AND route = @route AND idem_key = @idem_key;

-- name: DeleteExpiredIdempotencyKey :execrows
DELETE FROM idempotency_keys WHERE id = @id AND expires_at <= @now;

-- name: CompleteIdempotencyKey :exec
UPDATE idempotency_keys SET status = @status, content_type = @content_type, response = @response
WHERE id = @id;

-- name: ReleaseIdempotencyKey :exec
DELETE FROM idempotency_keys WHERE id = $1 AND status = 0;

-- name: PurgeIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE expires_at <= @now;
