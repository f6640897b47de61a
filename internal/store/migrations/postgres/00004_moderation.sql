-- +goose Up
CREATE TABLE moderation_settings (
    guild_id   BIGINT PRIMARY KEY,
    settings   TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE automod_rules (
    id         BIGSERIAL PRIMARY KEY,
    guild_id   BIGINT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    spec       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX automod_rules_guild ON automod_rules (guild_id, id);

-- Case numbers are handed out by a per-guild counter row in the same
-- transaction as the case: a rollback returns the number, so there are no gaps.
CREATE TABLE case_counters (
    guild_id    BIGINT PRIMARY KEY,
    last_number BIGINT NOT NULL
);

CREATE TABLE cases (
    guild_id         BIGINT NOT NULL,
    number           BIGINT NOT NULL,
    target_id        BIGINT NOT NULL,
    target_name      TEXT NOT NULL DEFAULT '',
    moderator_id     BIGINT NOT NULL, -- 0: the bot
    action           TEXT NOT NULL,
    rule_id          BIGINT,
    rule_name        TEXT NOT NULL DEFAULT '',
    rule_kind        TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL DEFAULT '',
    duration_seconds BIGINT NOT NULL DEFAULT 0,
    channel_id       BIGINT,
    message_id       BIGINT,
    state            TEXT NOT NULL DEFAULT 'open',
    resolved_by      BIGINT,
    resolved_at      TIMESTAMPTZ,
    note             TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (guild_id, number)
);
CREATE INDEX cases_target ON cases (guild_id, target_id, number DESC);
CREATE INDEX cases_warnings ON cases (guild_id, target_id, action, created_at);

-- +goose Down
DROP TABLE cases;
DROP TABLE case_counters;
DROP TABLE automod_rules;
DROP TABLE moderation_settings;
