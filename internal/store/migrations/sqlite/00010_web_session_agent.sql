-- +goose Up
-- The browser a session was started from (its User-Agent, cut to 300
-- bytes): the sessions page names each session by it, so an admin can tell
-- which one to end.
ALTER TABLE web_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE web_sessions DROP COLUMN user_agent;
