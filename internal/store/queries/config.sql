-- name: GetGuildConfig :one
SELECT * FROM guild_configs WHERE guild_id = $1;

-- name: UpsertGuildConfig :one
INSERT INTO guild_configs (guild_id, starting_balance, daily_amount, max_transfer, transfer_cooldown_hours,
                           streak_tiers, squad_min_balance, daily_feedback, version, updated_at)
VALUES (@guild_id, @starting_balance, @daily_amount, @max_transfer, @transfer_cooldown_hours,
        @streak_tiers, @squad_min_balance, @daily_feedback, 1, @updated_at)
ON CONFLICT (guild_id) DO UPDATE SET
    starting_balance = excluded.starting_balance,
    daily_amount = excluded.daily_amount,
    max_transfer = excluded.max_transfer,
    transfer_cooldown_hours = excluded.transfer_cooldown_hours,
    streak_tiers = excluded.streak_tiers,
    squad_min_balance = excluded.squad_min_balance,
    daily_feedback = excluded.daily_feedback,
    version = guild_configs.version + 1,
    updated_at = excluded.updated_at
RETURNING *;

-- name: ListRoleRewards :many
SELECT * FROM role_rewards WHERE guild_id = $1 ORDER BY threshold, role_id;

-- name: DeleteRoleRewards :exec
DELETE FROM role_rewards WHERE guild_id = $1;

-- name: InsertRoleReward :exec
INSERT INTO role_rewards (guild_id, role_id, threshold) VALUES ($1, $2, $3);

-- name: InsertAudit :exec
INSERT INTO audit_log (guild_id, actor_id, action, target, before, after, reason, created_at, via)
VALUES (@guild_id, @actor_id, @action, @target, @before, @after, @reason, @created_at, @via);

-- name: ListAudit :many
SELECT * FROM audit_log
WHERE guild_id = @guild_id AND id < @before
  AND (action LIKE @action_like OR @action_like = '')
  AND (actor_id = @actor_id OR @actor_id = 0)
  AND (via = @via OR @via = '')
ORDER BY id DESC LIMIT @lim;
