-- name: MetricsEconomy :many
-- Every guild's accounts, currency in circulation and members active today
-- (a daily reward on @day or a transfer sent since @day_start), for the
-- scrape-time economy gauges. One scan of accounts, cached by the caller.
SELECT guild_id,
       COUNT(*) AS accounts,
       CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS circulation,
       CAST(COALESCE(SUM(CASE WHEN last_daily = CAST(@day AS TEXT)
                                OR last_transfer_at >= @day_start THEN 1 ELSE 0 END), 0) AS BIGINT) AS active_members
FROM accounts
GROUP BY guild_id
ORDER BY guild_id;
