-- +goose Up
-- When a key stops working on its own; NULL: never. Checked on every
-- request, the verified-key cache included.
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMP;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expires_at;
