package economy

import (
	"context"
	"log/slog"
	"testing"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// A member the database refuses (PostgreSQL rejects a NUL byte in text)
// fails alone: the others of the batch are paid and told so.
func TestDailyBatchMemberFailureIsNobodyElses(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	mb := bus.NewMemory()
	defer mb.Close()
	s := NewService(db, mb, Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	cfg, err := s.Config(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := &dailyBatch{guild: 1, cfg: cfg, seen: map[int64]bool{}, done: make(chan struct{}), taken: map[int64]bool{},
		members: []Member{{ID: 10, Name: "ann"}, {ID: 11, Name: "bad\x00name"}, {ID: 12, Name: "bob"}}}
	s.runBatch(ctx, b)
	if b.err != nil {
		t.Fatalf("batch error %v; want only the bad member's", b.err)
	}
	for _, id := range []int64{10, 12} {
		if _, ok := b.paid[id]; !ok || b.errs[id] != nil {
			t.Errorf("member %d: paid %v, error %v; want paid", id, ok, b.errs[id])
		}
	}
	if _, ok := b.paid[11]; ok || b.errs[11] == nil {
		t.Errorf("bad member: paid %v, error %v; want an error", ok, b.errs[11])
	}
	for _, id := range []int64{10, 12} {
		a, err := s.Balance(ctx, 1, id)
		if err != nil || a.Balance != 110 {
			t.Errorf("member %d: balance %d, %v; want 110", id, a.Balance, err)
		}
	}
}
