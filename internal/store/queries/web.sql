-- name: InsertWebSession :exec
INSERT INTO web_sessions (id_hash, user_id, username, access_token, csrf_token, dev, created_at, last_seen_at, expires_at, user_agent)
VALUES (@id_hash, @user_id, @username, @access_token, @csrf_token, @dev, @created_at, @created_at, @expires_at, @user_agent);

-- name: GetWebSession :one
SELECT * FROM web_sessions WHERE id_hash = $1;

-- name: TouchWebSession :exec
UPDATE web_sessions SET last_seen_at = @now WHERE id_hash = @id_hash;

-- name: DeleteWebSession :exec
DELETE FROM web_sessions WHERE id_hash = $1;

-- name: ListUserWebSessions :many
-- A user's live sessions, most recently active first.
SELECT id_hash, user_agent, dev, created_at, last_seen_at, expires_at FROM web_sessions
WHERE user_id = @user_id AND expires_at > @now AND last_seen_at > @idle_cutoff
ORDER BY last_seen_at DESC, created_at DESC;

-- name: DeleteUserWebSession :many
-- One of the user's sessions, by the first 16 characters of its id hash (what
-- the sessions page shows); returns the hashes deleted.
DELETE FROM web_sessions WHERE user_id = @user_id AND substr(id_hash, 1, 16) = @ref
RETURNING id_hash;

-- name: DeleteUserWebSessions :execrows
DELETE FROM web_sessions WHERE user_id = $1;

-- name: PurgeWebSessions :execrows
-- Absolute expiry passed, or idle since before idle_cutoff.
DELETE FROM web_sessions WHERE expires_at <= @now OR last_seen_at <= @idle_cutoff;

-- name: KnownGuilds :many
-- Guilds with any data here, for operators (who may manage every guild).
SELECT guild_id FROM guild_configs
UNION SELECT guild_id FROM accounts
UNION SELECT guild_id FROM squads
ORDER BY guild_id
LIMIT 500;

-- name: AccountsByBalance :many
-- Keyset page of a guild's accounts, richest first, after (balance, user_id).
SELECT * FROM accounts
WHERE guild_id = @guild_id AND (balance < @after_balance OR (balance = @after_balance AND user_id > @after_user))
ORDER BY balance DESC, user_id ASC
LIMIT @lim;

-- name: LedgerPerDay :many
-- Per UTC day and kind since a time: row count, distinct members and the sum
-- of deltas. Timestamps are written in UTC, so the text form starts with the
-- UTC date on both engines (PostgreSQL sessions run in UTC).
SELECT CAST(SUBSTR(CAST(created_at AS TEXT), 1, 10) AS TEXT) AS day, kind,
       COUNT(*) AS entries, CAST(COALESCE(SUM(delta), 0) AS BIGINT) AS total
FROM ledger
WHERE guild_id = @guild_id AND created_at >= @since
GROUP BY 1, kind
ORDER BY 1, kind;

-- name: ActiveMembersPerDay :many
-- Distinct members with any ledger entry per UTC day since a time.
SELECT CAST(SUBSTR(CAST(created_at AS TEXT), 1, 10) AS TEXT) AS day, COUNT(DISTINCT user_id) AS members
FROM ledger
WHERE guild_id = @guild_id AND created_at >= @since
GROUP BY 1
ORDER BY 1;

-- name: DeltaSince :one
-- Net change of all balances since a time, to walk circulation backwards.
SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) AS total FROM ledger
WHERE guild_id = @guild_id AND created_at >= @since;
