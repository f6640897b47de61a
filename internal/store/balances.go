package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// BalancesBatch is the most accounts GetBalances reads in one statement.
const BalancesBatch = 128

// balanceSizes are the lengths an id list is padded to, so that each engine
// prepares (and caches) at most this many statements.
var balanceSizes = [...]int{8, 32, BalancesBatch}

// balancesQueries[i] reads up to balanceSizes[i] accounts of a guild. The
// list is written out ($2, $3, ...) rather than passed as an array because
// SQLite has no arrays: one text runs unchanged on both engines.
var balancesQueries = func() (q [len(balanceSizes)]string) {
	for i, n := range balanceSizes {
		var b strings.Builder
		b.WriteString("-- name: GetBalances :many\nSELECT user_id, balance, total_received, total_sent, streak, last_daily, last_transfer_at, created_at\nFROM accounts WHERE guild_id = $1 AND user_id IN (")
		for j := range n {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(j + 2))
		}
		b.WriteString(")")
		q[i] = b.String()
	}
	return q
}()

// BalanceRow is one account read by GetBalances.
type BalanceRow struct {
	UserID int64
	sqldb.GetBalanceRow
}

// GetBalances reads the accounts of users (at most BalancesBatch; a
// repeated id is read once) in guild in one statement, in no particular order;
// users without an account are absent. It exists for the balance cache's
// background refreshes: one round trip for a batch of hot balances instead
// of one each.
func (db *DB) GetBalances(ctx context.Context, guild int64, users []int64) ([]BalanceRow, error) {
	if len(users) == 0 {
		return nil, nil
	}
	if len(users) > BalancesBatch {
		return nil, fmt.Errorf("get balances: %d users, at most %d", len(users), BalancesBatch)
	}
	size := 0
	for size < len(balanceSizes)-1 && balanceSizes[size] < len(users) {
		size++
	}
	args := make([]any, 1+balanceSizes[size])
	args[0] = guild
	for i := range balanceSizes[size] {
		// Padded with the last id: IN ignores the repeats.
		args[1+i] = users[min(i, len(users)-1)]
	}
	rows, err := db.reader().QueryContext(ctx, balancesQueries[size], args...)
	if err != nil {
		return nil, fmt.Errorf("get balances: %w", err)
	}
	defer rows.Close()
	out := make([]BalanceRow, 0, len(users))
	for rows.Next() {
		var r BalanceRow
		if err := rows.Scan(&r.UserID, &r.Balance, &r.TotalReceived, &r.TotalSent, &r.Streak,
			&r.LastDaily, &r.LastTransferAt, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("get balances: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get balances: %w", err)
	}
	return out, nil
}
