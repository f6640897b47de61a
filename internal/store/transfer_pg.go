package store

import (
	"context"
	"fmt"
	"time"

	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// moveAndRecordPG is MoveBytes and InsertTransferLedger as one statement:
// PostgreSQL lets a data-modifying CTE feed another, so the common transfer
// costs one round trip instead of two. Both balances move in one UPDATE (rows
// locked in index order, as in MoveBytes); the ledger rows are written only
// when both rows moved. SQLite has no such CTEs and keeps the two statements.
const moveAndRecordPG = `WITH m AS (
  UPDATE accounts SET
    balance = CASE WHEN user_id = $1 THEN balance - $2::bigint ELSE balance + $2::bigint END,
    total_sent = CASE WHEN user_id = $1 THEN total_sent + $2::bigint ELSE total_sent END,
    total_received = CASE WHEN user_id = $1 THEN total_received ELSE total_received + $2::bigint END,
    last_transfer_at = CASE WHEN user_id = $1 THEN $3::timestamptz ELSE last_transfer_at END,
    updated_at = $3::timestamptz
  WHERE guild_id = $4 AND user_id IN ($1, $5)
    AND (user_id <> $1 OR (balance >= $2::bigint AND (last_transfer_at IS NULL OR last_transfer_at <= $6::timestamptz)))
  RETURNING guild_id, user_id, balance, total_received, total_sent, streak, last_daily, last_transfer_at, created_at, updated_at
), l AS (
  INSERT INTO ledger (guild_id, user_id, kind, delta, balance_after, user_name, counterparty_id, counterparty_name, reason, created_at)
  SELECT $4, g.user_id, 'transfer_out', -$2::bigint, g.balance, $7, r.user_id, $8, $9, $3::timestamptz
    FROM m g JOIN m r ON g.user_id = $1 AND r.user_id = $5
  UNION ALL
  SELECT $4, r.user_id, 'transfer_in', $2::bigint, r.balance, $8, g.user_id, $7, $9, $3::timestamptz
    FROM m g JOIN m r ON g.user_id = $1 AND r.user_id = $5
  RETURNING id, kind
)
SELECT m.guild_id, m.user_id, m.balance, m.total_received, m.total_sent, m.streak, m.last_daily, m.last_transfer_at,
       m.created_at, m.updated_at, COALESCE((SELECT id FROM l WHERE kind = 'transfer_out'), 0)
FROM m`

// TransferMove is a transfer's accounts and giver's ledger id from MoveAndRecord.
type TransferMove struct {
	Giver, Receiver   sqldb.Account
	GotGiver, GotRecv bool
	LedgerID          int64 // 0: the ledger rows were not written
}

// MoveAndRecord runs the one-statement transfer on PostgreSQL. ok is false
// on other engines, where the caller uses MoveBytes and InsertTransferLedger.
func (t *Tx) MoveAndRecord(ctx context.Context, guild, giver, receiver, amount int64, giverName, receiverName, reason string,
	now, cooldownCutoff time.Time) (mv TransferMove, ok bool, err error) {
	if t.db.Dialect != Postgres {
		return TransferMove{}, false, nil
	}
	rows, err := t.tx.QueryContext(ctx, moveAndRecordPG, giver, amount, now, guild, receiver, cooldownCutoff, giverName, receiverName, reason)
	if err != nil {
		return TransferMove{}, true, fmt.Errorf("move bytes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a sqldb.Account
		var ledger int64
		if err := rows.Scan(&a.GuildID, &a.UserID, &a.Balance, &a.TotalReceived, &a.TotalSent, &a.Streak, &a.LastDaily,
			&a.LastTransferAt, &a.CreatedAt, &a.UpdatedAt, &ledger); err != nil {
			return TransferMove{}, true, err
		}
		mv.LedgerID = ledger
		if a.UserID == giver {
			mv.Giver, mv.GotGiver = a, true
		} else {
			mv.Receiver, mv.GotRecv = a, true
		}
	}
	return mv, true, rows.Err()
}
