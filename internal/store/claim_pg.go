package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// claimDailyPG is a whole daily claim as one statement, so a member's first
// message of the day costs one round trip on PostgreSQL (the midnight burst):
// the account is opened or updated by an upsert whose DO UPDATE is guarded on
// the last rewarded day (a second claim that day updates nothing, whichever
// process makes it; the row lock serialises racing claims), the new streak
// and its multiplier are computed from the row being updated, and the ledger
// rows ('open' for a new account, then 'daily') are written by the same
// statement. The partial unique index on the ledger stays the backstop.
//
// $1 guild, $2 user, $3 starting balance, $4 daily amount, $5 today,
// $6 yesterday, $7 now, $8 tier days, $9 tier multipliers, $10 member name.
const claimDailyPG = `-- name: ClaimDailyOneStatement :one
WITH u AS (
  INSERT INTO accounts AS a (guild_id, user_id, balance, streak, last_daily, created_at, updated_at)
  VALUES ($1, $2, $3::bigint + $4::bigint * COALESCE((SELECT t.m FROM unnest($8::int[], $9::bigint[]) AS t(d, m)
            WHERE t.d <= 1 ORDER BY t.d DESC LIMIT 1), 1),
          1, $5::text, $7::timestamptz, $7::timestamptz)
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
  SELECT u.*, COALESCE((SELECT t.m FROM unnest($8::int[], $9::bigint[]) AS t(d, m)
            WHERE t.d <= u.streak ORDER BY t.d DESC LIMIT 1), 1) AS mult
  FROM u
), l AS (
  INSERT INTO ledger (guild_id, user_id, kind, delta, balance_after, user_name, day, created_at)
  SELECT $1, $2, 'open', $3::bigint, $3::bigint, $10::text, NULL, $7::timestamptz FROM x WHERE x.opened
  UNION ALL
  SELECT $1, $2, 'daily', $4::bigint * x.mult, x.balance, $10::text, $5::text, $7::timestamptz FROM x
  RETURNING id
)
SELECT guild_id, user_id, balance, total_received, total_sent, streak, last_daily, last_transfer_at,
       created_at, updated_at, opened, mult
FROM x`

// DailyClaim is what the one-statement claim needs beyond the member.
type DailyClaim struct {
	Guild, User     int64
	Name            string
	StartingBalance int64
	DailyAmount     int64
	Today           string // YYYY-MM-DD, UTC
	Yesterday       string
	Now             time.Time
	// Tiers: a streak of at least TierDays[i] days multiplies by TierMultipliers[i].
	TierDays        []int
	TierMultipliers []int64
}

// DailyClaimed is a paid claim.
type DailyClaimed struct {
	Account    sqldb.Account
	Opened     bool  // the account was opened by this claim
	Multiplier int64 // as computed by the database
}

// ClaimDaily runs the one-statement claim on PostgreSQL (ok false on other
// engines, which use the transaction in the economy service). paid is false
// when the member was already rewarded that day.
func (db *DB) ClaimDaily(ctx context.Context, c DailyClaim) (res DailyClaimed, paid, ok bool, err error) {
	if db.Dialect != Postgres {
		return DailyClaimed{}, false, false, nil
	}
	row := db.instrument(db.write).QueryRowContext(ctx, claimDailyPG, c.Guild, c.User, c.StartingBalance, c.DailyAmount,
		c.Today, c.Yesterday, c.Now, intArray(c.TierDays), intArray(c.TierMultipliers), c.Name)
	a := &res.Account
	err = row.Scan(&a.GuildID, &a.UserID, &a.Balance, &a.TotalReceived, &a.TotalSent, &a.Streak, &a.LastDaily,
		&a.LastTransferAt, &a.CreatedAt, &a.UpdatedAt, &res.Opened, &res.Multiplier)
	if err == sql.ErrNoRows {
		return DailyClaimed{}, false, true, nil
	}
	if err != nil {
		return DailyClaimed{}, false, true, fmt.Errorf("claim daily: %w", err)
	}
	return res, true, true, nil
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
