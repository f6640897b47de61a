-- name: StreakDistribution :many
-- Members per current-streak bucket (1, 2-7, 8-15, 16-31, 32-63, 64+); a
-- streak counts while its last claim was on or after @alive_since (a UTC
-- date "YYYY-MM-DD": yesterday's claim keeps it alive).
SELECT CAST(CASE WHEN streak >= 64 THEN 64 WHEN streak >= 32 THEN 32 WHEN streak >= 16 THEN 16
                 WHEN streak >= 8 THEN 8 WHEN streak >= 2 THEN 2 ELSE 1 END AS BIGINT) AS bucket,
       COUNT(*) AS members
FROM accounts
WHERE guild_id = @guild_id AND streak > 0 AND last_daily >= @alive_since
GROUP BY 1
ORDER BY 1;

-- name: SquadJoinsPerDay :many
-- Current squad memberships by the UTC day they began (a switch begins a new one).
SELECT CAST(SUBSTR(CAST(joined_at AS TEXT), 1, 10) AS TEXT) AS day, COUNT(*) AS joins
FROM squad_members
WHERE guild_id = @guild_id AND joined_at >= @since
GROUP BY 1
ORDER BY 1;
