-- name: AddSLOCounts :exec
-- Adds one process's counts to a day; replicas add up.
INSERT INTO slo_daily (day, requests, errors)
VALUES (@day, @requests, @errors)
ON CONFLICT (day) DO UPDATE SET requests = slo_daily.requests + excluded.requests,
                                errors = slo_daily.errors + excluded.errors;

-- name: SLODaysSince :many
SELECT * FROM slo_daily WHERE day >= @since ORDER BY day;

-- name: DeleteSLODaysBefore :execrows
DELETE FROM slo_daily WHERE day < @before;
