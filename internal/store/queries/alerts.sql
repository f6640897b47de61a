-- name: UpsertAlertReport :exec
INSERT INTO alert_reports (instance, payload, updated_at)
VALUES (@instance, @payload, @updated_at)
ON CONFLICT (instance) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at;

-- name: LatestAlertReport :one
SELECT * FROM alert_reports ORDER BY updated_at DESC, instance LIMIT 1;

-- name: DeleteAlertReportsBefore :execrows
DELETE FROM alert_reports WHERE updated_at < @before;
