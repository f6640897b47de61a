package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// reportsKeptFor is how long the report of a worker that stopped is kept.
const reportsKeptFor = 24 * time.Hour

// Reports keeps the workers' alert reports in the alert_reports table, one
// row per worker process, so that any process can show them.
type Reports struct {
	DB       *store.DB
	Instance string // this worker: host-pid-random (botstatus.Instance)
}

// Write stores r as this worker's report and prunes the rows of workers
// silent for a day.
func (s Reports) Write(ctx context.Context, r Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	at := r.EvaluatedAt.UTC()
	return s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpsertAlertReport(ctx, sqldb.UpsertAlertReportParams{Instance: s.Instance, Payload: string(b), UpdatedAt: at}); err != nil {
			return err
		}
		_, err := tx.DeleteAlertReportsBefore(ctx, at.Add(-reportsKeptFor))
		return err
	})
}

// Latest returns the most recent report of any worker; ok is false when no
// worker has published one.
func (s Reports) Latest(ctx context.Context) (r Report, ok bool, err error) {
	row, err := s.DB.Q().LatestAlertReport(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Report{}, false, nil
	}
	if err != nil {
		return Report{}, false, err
	}
	if err := json.Unmarshal([]byte(row.Payload), &r); err != nil {
		return Report{}, false, fmt.Errorf("alert report of %s: %w", row.Instance, err)
	}
	return r, true, nil
}
