package botstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// pruneAfter is how long the row of a bot process that stopped is kept.
const pruneAfter = time.Hour

// DB keeps heartbeats in the bot_heartbeats table, for deployments without
// Redis; rows of processes silent for an hour are pruned on write.
type DB struct{ DB *store.DB }

func (d DB) Write(ctx context.Context, h Heartbeat) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return d.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpsertBotHeartbeat(ctx, sqldb.UpsertBotHeartbeatParams{Instance: h.Instance, Payload: string(b), UpdatedAt: h.At.UTC()}); err != nil {
			return err
		}
		_, err := tx.DeleteBotHeartbeatsBefore(ctx, h.At.UTC().Add(-pruneAfter))
		return err
	})
}

func (d DB) Read(ctx context.Context) ([]Heartbeat, error) {
	rows, err := d.DB.Q().ListBotHeartbeats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Heartbeat, 0, len(rows))
	for _, r := range rows {
		var h Heartbeat
		if err := json.Unmarshal([]byte(r.Payload), &h); err != nil {
			return nil, fmt.Errorf("heartbeat of %s: %w", r.Instance, err)
		}
		out = append(out, h)
	}
	return out, nil
}
