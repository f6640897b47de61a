-- name: GetAccount :one
SELECT * FROM accounts WHERE guild_id = $1 AND user_id = $2;

-- name: GetBalance :one
-- A balance read (economy.Account): only the columns it returns, so the
-- hottest read of the API converts no more than it needs.
SELECT balance, total_received, total_sent, streak, last_daily, last_transfer_at, created_at
FROM accounts WHERE guild_id = $1 AND user_id = $2;

-- name: OpenAccount :one
-- Returns no row when the account already exists.
INSERT INTO accounts (guild_id, user_id, balance, created_at, updated_at)
VALUES (@guild_id, @user_id, @balance, @now, @now)
ON CONFLICT (guild_id, user_id) DO NOTHING
RETURNING *;

-- name: Credit :one
UPDATE accounts
SET balance = balance + @amount, total_received = total_received + @received, updated_at = @now
WHERE guild_id = @guild_id AND user_id = @user_id
RETURNING *;

-- name: Debit :one
-- Guarded: no row when the balance does not cover the amount.
UPDATE accounts
SET balance = balance - @amount, updated_at = @now
WHERE guild_id = @guild_id AND user_id = @user_id AND balance >= @amount
RETURNING *;

-- name: DebitForTransfer :one
-- Guarded by funds and by the giver's cooldown in one statement, so
-- concurrent transfers cannot both pass either check.
UPDATE accounts
SET balance = balance - @amount, total_sent = total_sent + @amount,
    last_transfer_at = @now, updated_at = @now
WHERE guild_id = @guild_id AND user_id = @user_id AND balance >= @amount
  AND (last_transfer_at IS NULL OR last_transfer_at <= @cooldown_cutoff)
RETURNING *;

-- name: MoveBytes :many
-- Both sides of a transfer in one statement (one round trip, rows locked in
-- index order). The giver's row is guarded by funds and cooldown: a missing
-- giver row in the result means a guard refused or the account is absent.
UPDATE accounts SET
    balance = CASE WHEN user_id = @giver_id THEN balance - CAST(@amount AS BIGINT) ELSE balance + CAST(@amount AS BIGINT) END,
    total_sent = CASE WHEN user_id = @giver_id THEN total_sent + CAST(@amount AS BIGINT) ELSE total_sent END,
    total_received = CASE WHEN user_id = @giver_id THEN total_received ELSE total_received + CAST(@amount AS BIGINT) END,
    last_transfer_at = CASE WHEN user_id = @giver_id THEN @now ELSE last_transfer_at END,
    updated_at = @now
WHERE guild_id = @guild_id AND user_id IN (@giver_id, @receiver_id)
  AND (user_id <> @giver_id OR (balance >= CAST(@amount AS BIGINT)
       AND (last_transfer_at IS NULL OR last_transfer_at <= @cooldown_cutoff)))
RETURNING *;

-- name: ClaimDaily :one
-- Guarded by the last claimed day read before, so exactly one of many
-- concurrent claims wins.
UPDATE accounts
SET balance = balance + @amount, streak = @streak, last_daily = @day, updated_at = @now
WHERE guild_id = @guild_id AND user_id = @user_id AND COALESCE(last_daily, '') = @prev_day
RETURNING *;

-- name: Leaderboard :many
SELECT * FROM accounts WHERE guild_id = @guild_id
ORDER BY balance DESC, user_id ASC
LIMIT @lim;

-- name: Rank :one
SELECT COUNT(*) + 1 FROM accounts
WHERE guild_id = @guild_id AND (balance > @balance OR (balance = @balance AND user_id < @user_id));

-- name: GuildTotals :one
SELECT COUNT(*) AS accounts, CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS circulation
FROM accounts WHERE guild_id = @guild_id;

-- name: InsertLedger :one
INSERT INTO ledger (guild_id, user_id, kind, delta, balance_after, user_name, counterparty_id, counterparty_name,
                    reason, day, actor_id, created_at)
VALUES (@guild_id, @user_id, @kind, @delta, @balance_after, @user_name, @counterparty_id, @counterparty_name,
        @reason, @day, @actor_id, @created_at)
RETURNING id;

-- name: InsertTransferLedger :many
-- Both sides of a transfer in one round trip; the giver's row comes first.
INSERT INTO ledger (guild_id, user_id, kind, delta, balance_after, user_name, counterparty_id, counterparty_name,
                    reason, created_at)
VALUES (@guild_id, @giver_id, 'transfer_out', @out_delta, @giver_balance, @giver_name, @receiver_id, @receiver_name, @reason, @created_at),
       (@guild_id, @receiver_id, 'transfer_in', @in_delta, @receiver_balance, @receiver_name, @giver_id, @giver_name, @reason, @created_at)
RETURNING id;

-- name: ListLedger :many
SELECT * FROM ledger
WHERE guild_id = @guild_id AND user_id = @user_id AND id < @before
ORDER BY id DESC
LIMIT @lim;

-- name: ListTransfers :many
-- One row per transfer: the giver's side.
SELECT * FROM ledger
WHERE guild_id = @guild_id AND kind = 'transfer_out' AND id < @before
ORDER BY id DESC
LIMIT @lim;

-- name: ListTransfersOfUser :many
-- One row per transfer the user took part in: the user's own side.
SELECT * FROM ledger
WHERE guild_id = @guild_id AND user_id = @user_id AND kind IN ('transfer_out', 'transfer_in') AND id < @before
ORDER BY id DESC
LIMIT @lim;

-- name: LedgerSums :many
-- Used by consistency checks: the balance each account's ledger implies.
SELECT user_id, CAST(SUM(delta) AS BIGINT) AS total FROM ledger WHERE guild_id = @guild_id GROUP BY user_id;
