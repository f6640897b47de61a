package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// claimDailyPG is a whole daily claim, for one member or a batch of a
// guild's members, as one statement, so the first messages of the day cost
// one round trip per batch on PostgreSQL (the midnight burst): accounts are
// opened or updated by an upsert whose DO UPDATE is guarded on the last
// rewarded day (a second claim that day updates nothing, whichever process
// makes it; the row lock serialises racing claims), the new streak and its
// multiplier are computed from the row being updated, and the ledger rows
// ('open' for a new account, then 'daily') are written by the same
// statement. Members are taken in user id order, so two batches lock their
// rows in the same order. The ledger's partial unique index stays the
// backstop.
//
// $1 guild, $2 user ids, $3 starting balance, $4 daily amount, $5 today,
// $6 yesterday, $7 now, $8 tier days, $9 tier multipliers, $10 member names.
const claimDailyPG = `-- name: ClaimDailyOneStatement :many
WITH i AS (
  SELECT * FROM unnest($2::bigint[], $10::text[]) AS i(user_id, name)
), u AS (
  INSERT INTO accounts AS a (guild_id, user_id, balance, streak, last_daily, created_at, updated_at)
  SELECT $1::bigint, i.user_id, $3::bigint + $4::bigint * COALESCE((SELECT t.m FROM unnest($8::int[], $9::bigint[]) AS t(d, m)
            WHERE t.d <= 1 ORDER BY t.d DESC LIMIT 1), 1),
         1, $5::text, $7::timestamptz, $7::timestamptz
  FROM i ORDER BY i.user_id
  ON CONFLICT (guild_id, user_id) DO UPDATE SET
    streak = CASE WHEN a.last_daily = $6::text THEN a.streak + 1 ELSE 1 END,
    balance = a.balance + $4::bigint * COALESCE((SELECT t.m FROM unnest($8::int[], $9::bigint[]) AS t(d, m)
            WHERE t.d <= CASE WHEN a.last_daily = $6::text THEN a.streak + 1 ELSE 1 END ORDER BY t.d DESC LIMIT 1), 1),
    last_daily = $5::text,
    updated_at = $7::timestamptz
  WHERE a.last_daily IS DISTINCT FROM $5::text
  RETURNING a.guild_id, a.user_id, a.balance, a.total_received, a.total_sent, a.streak, a.last_daily,
            a.last_transfer_at, a.created_at, a.updated_at, (a.xmax = 0) AS opened
), x AS (
  SELECT u.*, i.name, COALESCE((SELECT t.m FROM unnest($8::int[], $9::bigint[]) AS t(d, m)
            WHERE t.d <= u.streak ORDER BY t.d DESC LIMIT 1), 1) AS mult
  FROM u JOIN i ON i.user_id = u.user_id
), l AS (
  INSERT INTO ledger (guild_id, user_id, kind, delta, balance_after, user_name, day, created_at)
  SELECT r.guild_id, r.user_id, r.kind, r.delta, r.balance_after, r.name, r.day, $7::timestamptz
  FROM (
    SELECT x.guild_id, x.user_id, 0 AS ord, 'open' AS kind, $3::bigint AS delta, $3::bigint AS balance_after, x.name, NULL::text AS day
      FROM x WHERE x.opened
    UNION ALL
    SELECT x.guild_id, x.user_id, 1, 'daily', $4::bigint * x.mult, x.balance, x.name, $5::text FROM x
  ) r ORDER BY r.user_id, r.ord
  RETURNING id
)
SELECT guild_id, user_id, balance, total_received, total_sent, streak, last_daily, last_transfer_at,
       created_at, updated_at, opened, mult
FROM x`

// DailyBatch is a guild's daily claims with what the statement needs.
type DailyBatch struct {
	Guild           int64
	StartingBalance int64
	DailyAmount     int64
	Today           string // YYYY-MM-DD, UTC
	Yesterday       string
	Now             time.Time
	// Tiers: a streak of at least TierDays[i] days multiplies by TierMultipliers[i].
	TierDays        []int
	TierMultipliers []int64
	// Members claiming, each at most once.
	Users []int64
	Names []string
}

// DailyClaimed is a paid claim.
type DailyClaimed struct {
	Account    sqldb.Account
	Opened     bool  // the account was opened by this claim
	Multiplier int64 // as computed by the database
}

// ClaimDaily runs the one-statement claim on PostgreSQL (ok false on other
// engines, which use a transaction in the economy service). It returns the
// members it paid; the others were already rewarded that day.
func (db *DB) ClaimDaily(ctx context.Context, c DailyBatch) (paid []DailyClaimed, ok bool, err error) {
	if db.Dialect != Postgres {
		return nil, false, nil
	}
	rows, err := db.instrument(db.write).QueryContext(ctx, claimDailyPG, c.Guild, intArray(c.Users), c.StartingBalance, c.DailyAmount,
		c.Today, c.Yesterday, c.Now, intArray(c.TierDays), intArray(c.TierMultipliers), c.Names)
	if err != nil {
		return nil, true, fmt.Errorf("claim daily: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r DailyClaimed
		a := &r.Account
		if err := rows.Scan(&a.GuildID, &a.UserID, &a.Balance, &a.TotalReceived, &a.TotalSent, &a.Streak, &a.LastDaily,
			&a.LastTransferAt, &a.CreatedAt, &a.UpdatedAt, &r.Opened, &r.Multiplier); err != nil {
			return nil, true, fmt.Errorf("claim daily: %w", err)
		}
		paid = append(paid, r)
	}
	if err := rows.Err(); err != nil {
		return nil, true, fmt.Errorf("claim daily: %w", err)
	}
	return paid, true, nil
}

// intArray is a PostgreSQL array literal ('{8,16}'): plain text that the
// statement casts, whatever the driver's array support.
func intArray[T int | int64](xs []T) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	}
	b.WriteByte('}')
	return b.String()
}
