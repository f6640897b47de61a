-- +goose Up
CREATE TABLE guild_configs (
    guild_id                BIGINT PRIMARY KEY,
    starting_balance        BIGINT NOT NULL,
    daily_amount            BIGINT NOT NULL,
    max_transfer            BIGINT NOT NULL,
    transfer_cooldown_hours INTEGER NOT NULL,
    streak_tiers            TEXT NOT NULL,
    squad_min_balance       BIGINT NOT NULL,
    daily_feedback          TEXT NOT NULL DEFAULT 'reaction',
    version                 BIGINT NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);

CREATE TABLE role_rewards (
    guild_id  BIGINT NOT NULL,
    role_id   BIGINT NOT NULL,
    threshold BIGINT NOT NULL CHECK (threshold > 0),
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE accounts (
    guild_id         BIGINT NOT NULL,
    user_id          BIGINT NOT NULL,
    balance          BIGINT NOT NULL CHECK (balance >= 0),
    total_received   BIGINT NOT NULL DEFAULT 0,
    total_sent       BIGINT NOT NULL DEFAULT 0,
    streak           INTEGER NOT NULL DEFAULT 0,
    last_daily       TEXT,
    last_transfer_at TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX accounts_leaderboard ON accounts (guild_id, balance DESC, user_id);

-- Append-only: every change of a balance, with the balance after it. A
-- transfer is a pair of rows (transfer_out, transfer_in) with both names as
-- they were at that moment.
CREATE TABLE ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id          BIGINT NOT NULL,
    user_id           BIGINT NOT NULL,
    kind              TEXT NOT NULL,
    delta             BIGINT NOT NULL,
    balance_after     BIGINT NOT NULL,
    user_name         TEXT NOT NULL DEFAULT '',
    counterparty_id   BIGINT,
    counterparty_name TEXT NOT NULL DEFAULT '',
    reason            TEXT NOT NULL DEFAULT '',
    day               TEXT,
    actor_id          BIGINT,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX ledger_account ON ledger (guild_id, user_id, id DESC);
CREATE INDEX ledger_kind ON ledger (guild_id, kind, id DESC);
-- The database, not a cache, is the arbiter of one reward per member and day.
CREATE UNIQUE INDEX ledger_one_daily ON ledger (guild_id, user_id, day) WHERE kind = 'daily';

CREATE TABLE squads (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id     BIGINT NOT NULL,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL, -- the name case-folded in Go: unique per guild on every engine
    description  TEXT NOT NULL DEFAULT '',
    role_id      BIGINT NOT NULL,
    switch_cost  BIGINT NOT NULL CHECK (switch_cost >= 0),
    max_members  INTEGER CHECK (max_members IS NULL OR max_members > 0),
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    member_count INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX squads_role ON squads (guild_id, role_id);
CREATE UNIQUE INDEX squads_name ON squads (guild_id, name_key);

CREATE TABLE squad_members (
    guild_id  BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    squad_id  BIGINT NOT NULL REFERENCES squads (id) ON DELETE CASCADE,
    joined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX squad_members_squad ON squad_members (squad_id, joined_at, user_id);

-- Side effects that must follow a commit, written in the same transaction.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    headers      TEXT NOT NULL DEFAULT '{}',
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   BIGINT NOT NULL,
    actor_id   BIGINT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    before     TEXT NOT NULL DEFAULT '',
    after      TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, id DESC);

-- +goose StatementBegin
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_log;
DROP TABLE outbox;
DROP TABLE squad_members;
DROP TABLE squads;
DROP TABLE ledger;
DROP TABLE accounts;
DROP TABLE role_rewards;
DROP TABLE guild_configs;

