-- name: CreateSquad :one
INSERT INTO squads (guild_id, name, name_key, description, role_id, switch_cost, max_members, active, created_at, updated_at)
VALUES (@guild_id, @name, @name_key, @description, @role_id, @switch_cost, @max_members, @active, @now, @now)
RETURNING *;

-- name: GetSquad :one
SELECT * FROM squads WHERE guild_id = $1 AND id = $2;

-- name: ListSquads :many
SELECT * FROM squads WHERE guild_id = $1 ORDER BY name_key, id;

-- name: UpdateSquad :one
UPDATE squads
SET name = @name, name_key = @name_key, description = @description, role_id = @role_id, switch_cost = @switch_cost,
    max_members = @max_members, active = @active, updated_at = @now
WHERE guild_id = @guild_id AND id = @id
RETURNING *;

-- name: DeleteSquad :execrows
DELETE FROM squads WHERE guild_id = $1 AND id = $2;

-- name: AddSquadMember :one
-- Guarded: no row when the squad is inactive or full, so max_members holds
-- under concurrent joins (the row lock serialises them).
UPDATE squads SET member_count = member_count + 1
WHERE guild_id = @guild_id AND id = @id AND active
  AND (max_members IS NULL OR member_count < max_members)
RETURNING *;

-- name: RemoveSquadMember :exec
UPDATE squads SET member_count = member_count - 1 WHERE guild_id = @guild_id AND id = @id;

-- name: GetMembership :one
SELECT * FROM squad_members WHERE guild_id = $1 AND user_id = $2;

-- name: InsertMembership :exec
INSERT INTO squad_members (guild_id, user_id, squad_id, joined_at) VALUES ($1, $2, $3, $4);

-- name: DeleteMembership :execrows
DELETE FROM squad_members WHERE guild_id = $1 AND user_id = $2 AND squad_id = $3;

-- name: ListSquadMembers :many
SELECT * FROM squad_members
WHERE squad_id = @squad_id AND user_id > @after
ORDER BY user_id
LIMIT @lim;
