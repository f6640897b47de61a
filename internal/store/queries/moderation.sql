-- name: GetModerationSettings :one
SELECT * FROM moderation_settings WHERE guild_id = $1;

-- name: UpsertModerationSettings :one
INSERT INTO moderation_settings (guild_id, settings, version, updated_at) VALUES (@guild_id, @settings, 1, @updated_at)
ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings, version = moderation_settings.version + 1,
    updated_at = excluded.updated_at
RETURNING *;

-- name: ListAutomodRules :many
SELECT * FROM automod_rules WHERE guild_id = $1 ORDER BY id;

-- name: GetAutomodRule :one
SELECT * FROM automod_rules WHERE guild_id = $1 AND id = $2;

-- name: CountAutomodRules :one
SELECT COUNT(*) FROM automod_rules WHERE guild_id = $1;

-- name: CreateAutomodRule :one
INSERT INTO automod_rules (guild_id, name, kind, enabled, spec, created_at, updated_at)
VALUES (@guild_id, @name, @kind, @enabled, @spec, @now, @now)
RETURNING *;

-- name: UpdateAutomodRule :one
UPDATE automod_rules SET name = @name, kind = @kind, enabled = @enabled, spec = @spec, updated_at = @now
WHERE guild_id = @guild_id AND id = @id
RETURNING *;

-- name: DeleteAutomodRule :execrows
DELETE FROM automod_rules WHERE guild_id = $1 AND id = $2;

-- name: NextCaseNumber :one
INSERT INTO case_counters (guild_id, last_number) VALUES ($1, 1)
ON CONFLICT (guild_id) DO UPDATE SET last_number = case_counters.last_number + 1
RETURNING last_number;

-- name: InsertCase :one
INSERT INTO cases (guild_id, number, target_id, target_name, moderator_id, action, rule_id, rule_name, rule_kind,
                   reason, duration_seconds, channel_id, message_id, created_at)
VALUES (@guild_id, @number, @target_id, @target_name, @moderator_id, @action, @rule_id, @rule_name, @rule_kind,
        @reason, @duration_seconds, @channel_id, @message_id, @created_at)
RETURNING *;

-- name: GetCase :one
SELECT * FROM cases WHERE guild_id = $1 AND number = $2;

-- name: ListCases :many
SELECT * FROM cases
WHERE guild_id = @guild_id AND number < @before
  AND (target_id = @target_id OR @target_id = 0)
  AND (action = @action OR @action = '')
  AND (rule_name = @rule_name OR @rule_name = '')
  AND (state = @state OR @state = '')
ORDER BY number DESC
LIMIT @lim;

-- name: CountWarningsSince :one
SELECT COUNT(*) FROM cases
WHERE guild_id = @guild_id AND target_id = @target_id AND action = 'warn' AND created_at > @since;

-- name: SetCaseState :one
UPDATE cases SET state = @state, resolved_by = @resolved_by, resolved_at = @resolved_at, note = @note
WHERE guild_id = @guild_id AND number = @number AND state = 'open'
RETURNING *;

-- name: LatestOpenCase :one
SELECT * FROM cases WHERE guild_id = @guild_id AND target_id = @target_id AND action = @action AND state = 'open'
ORDER BY number DESC LIMIT 1;
