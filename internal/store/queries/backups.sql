-- name: InsertBackup :one
INSERT INTO backups (started_at, finished_at, path, size_bytes, sha256, status, error)
VALUES (@started_at, @finished_at, @path, @size_bytes, @sha256, @status, @error)
RETURNING id;

-- name: LastBackup :one
SELECT * FROM backups ORDER BY id DESC LIMIT 1;

-- name: LastSuccessfulBackup :one
SELECT * FROM backups WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1;

-- name: CountBackupsByStatus :many
SELECT status, COUNT(*) AS backups FROM backups GROUP BY status ORDER BY status;
