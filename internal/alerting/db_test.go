package alerting_test

import (
	"context"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestReports: workers' reports round-trip through the database, the
// newest of any worker is the one read, a worker's later report replaces
// its earlier one, and a worker silent for a day is pruned.
func TestReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := alerting.Reports{DB: db, Instance: "worker-a"}, alerting.Reports{DB: db, Instance: "worker-b"}
		if _, ok, err := a.Latest(ctx); err != nil || ok {
			t.Fatalf("empty table: ok %v, err %v", ok, err)
		}
		now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
		report := func(at time.Time, state string) alerting.Report {
			return alerting.Report{EvaluatedAt: at, IntervalSeconds: 30,
				Receivers:  []alerting.ReceiverState{{Name: "slack", LastError: "the receiver answered 500", FailedAt: at}},
				Conditions: []alerting.ConditionState{{Name: "DeadLetters", Severity: "warning", State: state, Since: at.Add(-time.Minute), Summary: "dead-lettered jobs: 1 on roles"}}}
		}
		if err := b.Write(ctx, report(now.Add(-25*time.Hour), alerting.StateOK)); err != nil { // a worker gone since yesterday
			t.Fatal(err)
		}
		if err := a.Write(ctx, report(now.Add(-time.Minute), alerting.StateOK)); err != nil {
			t.Fatal(err)
		}
		if err := a.Write(ctx, report(now, alerting.StateFiring)); err != nil {
			t.Fatal(err)
		}
		got, ok, err := b.Latest(ctx)
		if err != nil || !ok {
			t.Fatalf("latest: ok %v, err %v", ok, err)
		}
		want := report(now, alerting.StateFiring)
		if !got.EvaluatedAt.Equal(want.EvaluatedAt) || len(got.Conditions) != 1 || got.Conditions[0] != want.Conditions[0] ||
			len(got.Receivers) != 1 || got.Receivers[0].LastError != want.Receivers[0].LastError || !got.Receivers[0].FailedAt.Equal(now) {
			t.Fatalf("latest:\n got %+v\nwant %+v", got, want)
		}
		var rows int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM alert_reports").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Fatalf("%d rows: one per worker, and the silent one pruned", rows)
		}
		// An older report of another worker does not hide the newer one.
		if err := b.Write(ctx, report(now.Add(-10*time.Second), alerting.StateOK)); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := a.Latest(ctx); got.Conditions[0].State != alerting.StateFiring {
			t.Fatalf("latest is %+v", got)
		}
	})
}
