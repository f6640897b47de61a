-- +goose Up
-- How a change was made when no Discord user made it: "apikey:PREFIX" for a
-- REST API call (the audit log then names the key), "" for the dashboard, the
-- bot and the system. The column is added, not updated, so the append-only
-- triggers have nothing to refuse.
ALTER TABLE audit_log ADD COLUMN via TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_log DROP COLUMN via;
