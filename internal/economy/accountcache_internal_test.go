package economy

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// A read that started before an invalidation is not cached when it ends
// after it: it may hold the value from before the write.
func TestAccountCacheRefusesARacedRead(t *testing.T) {
	c := newAccountCache(time.Hour, 100)
	k := acctKey{1, 2}
	now := time.Now()
	_, gen, ok, _ := c.get(k, now)
	if ok {
		t.Fatal("hit in an empty cache")
	}
	c.changed(1, 2) // a write commits while the read is under way
	c.put(k, Account{Balance: 5}, now, gen)
	if _, _, ok, _ := c.get(k, now); ok {
		t.Fatal("a read that raced with a write was cached")
	}
	_, gen, _, _ = c.get(k, now)
	c.put(k, Account{Balance: 6}, now, gen)
	if a, _, ok, _ := c.get(k, now); !ok || a.Balance != 6 {
		t.Fatalf("get = %+v, %v; want the read cached", a, ok)
	}
	if _, _, ok, _ := c.get(k, now.Add(time.Hour)); ok {
		t.Fatal("an entry older than the TTL was served")
	}
}

func TestAccountCacheNotifications(t *testing.T) {
	c := newAccountCache(time.Hour, 100)
	other := newAccountCache(time.Hour, 100)
	now := time.Now()
	fill := func(keys ...acctKey) {
		for _, k := range keys {
			_, gen, _, _ := c.get(k, now)
			c.put(k, Account{Balance: 1}, now, gen)
		}
	}
	cached := func(k acctKey) bool { _, _, ok, _ := c.get(k, now); return ok }
	a, b, z := acctKey{1, 10}, acctKey{1, 11}, acctKey{-3, 12}

	fill(a, b, z)
	if !c.apply(other.encode([]acctKey{a, z}, false)) {
		t.Fatal("a well-formed notification was refused")
	}
	if cached(a) || cached(z) || !cached(b) {
		t.Fatalf("after dropping a and z: a %v b %v z %v", cached(a), cached(b), cached(z))
	}

	fill(a)
	if !c.apply(c.encode([]acctKey{a}, false)) || !cached(a) {
		t.Fatal("the process's own notification dropped its entry (it is already dropped when sent)")
	}

	fill(a, b)
	if !c.apply(other.encode(nil, true)) || cached(a) || cached(b) {
		t.Fatal(`"drop everything" left entries`)
	}

	for _, bad := range []string{"", "zz 1:2", "ab 1:x", "ab 12", "ab 1:2:3"} {
		fill(a)
		if c.apply([]byte(bad)) && bad != "" {
			t.Errorf("malformed %q accepted", bad)
		}
		if bad != "" && bad != "zz 1:2" && cached(a) {
			t.Errorf("malformed %q with an origin left the cache as it was; want it dropped", bad)
		}
	}
}

// When the queue of announcements is full, writes still drop locally at once
// and the next announcement tells the others to drop everything.
func TestAccountCacheOverflowFloods(t *testing.T) {
	c := newAccountCache(time.Hour, 100)
	for i := range cap(c.out) + 10 {
		c.changed(1, int64(i))
	}
	select {
	case <-c.flood:
	default:
		t.Fatal("a full queue did not ask for a flood")
	}
}

// The cache holds at most its size (per shard); a full shard evicts.
func TestAccountCacheBounded(t *testing.T) {
	c := newAccountCache(time.Hour, accountShards*2)
	now := time.Now()
	for i := range 10_000 {
		k := acctKey{1, int64(i)}
		_, gen, _, _ := c.get(k, now)
		c.put(k, Account{}, now, gen)
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > accountShards*2 {
		t.Fatalf("%d entries cached, cap %d", n, accountShards*2)
	}
}

// refreshFixture is a service with a 10 s account TTL on a clock the test
// moves (advance), and a writer in another process that it does not hear
// from: member m's balance, 100, then adjusted to 105 by the writer after
// this service has cached it. read returns the balance this service serves.
func refreshFixture(t *testing.T, db *store.DB, m Member) (s *Service, advance func(time.Duration), read func() int64) {
	t.Helper()
	ctx := context.Background()
	quiet := Options{Logger: slog.New(slog.DiscardHandler), AccountTTL: 10 * time.Second}
	mb, other := bus.NewMemory(), bus.NewMemory()
	t.Cleanup(func() { _ = mb.Close(); _ = other.Close() })
	s = NewService(db, mb, quiet)
	var mu sync.Mutex
	now := time.Now()
	s.accounts.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance = func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	writer := NewService(db, other, quiet) // another process, not heard
	if _, _, err := writer.EnsureAccount(ctx, 1, m); err != nil {
		t.Fatal(err)
	}
	read = func() int64 {
		a, err := s.Balance(ctx, 1, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance
	}
	if b := read(); b != 100 {
		t.Fatalf("balance %d", b)
	}
	if _, err := writer.Adjust(ctx, 1, m, 9, 5, "bonus"); err != nil {
		t.Fatal(err)
	}
	return s, advance, read
}

// waitForRefresh waits until read serves the writer's 105.
func waitForRefresh(t *testing.T, read func() int64, failure string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for read() != 105 {
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Past half its TTL, a cached balance is served as it is and refreshed in
// the background by one read: a write this process did not hear about shows
// before the TTL ends, without a read waiting for the database.
func TestAccountCacheRefreshesAhead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		_, advance, read := refreshFixture(t, db, Member{ID: 5, Name: "eve"})
		advance(3 * time.Second) // under half the TTL: served, no refresh
		if b := read(); b != 100 {
			t.Fatalf("a fresh entry read %d; the cache is not being exercised", b)
		}
		advance(3 * time.Second) // past half: served, and refreshed behind
		if b := read(); b != 100 {
			t.Fatalf("the read that starts a refresh should not wait for it: %d", b)
		}
		waitForRefresh(t, read, "no refresh ahead of the TTL")
	})
}

// A refresh that cannot be queued (the queue full) leaves the entry for a
// later read to refresh: otherwise the entry would only expire, and a read
// would then wait for the database, under exactly the load that filled the
// queue.
func TestAccountCacheRetriesASkippedRefresh(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, advance, read := refreshFixture(t, db, Member{ID: 6, Name: "fay"})
		q := &s.refreshes
		q.mu.Lock()
		q.pending, q.draining = make([]refreshItem, refreshPendingMax), true // full, and "being drained"
		q.mu.Unlock()
		advance(6 * time.Second) // past half the TTL: this read's refresh finds no room
		if b := read(); b != 100 {
			t.Fatalf("read %d", b)
		}
		q.mu.Lock()
		q.pending, q.draining = nil, false
		q.mu.Unlock()
		// Still within the TTL: only a refresh shows the write.
		waitForRefresh(t, read, "a skipped refresh is never tried again before the entry expires")
	})
}

// statements is how many times the named query has run in this process.
func statements(t *testing.T, name string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.DBQueryDuration.WithLabelValues(name).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// Refreshes ahead of expiry are read in batches: 170 hot balances in two
// guilds, all due at once, refresh in a statement per guild and 128
// members, not a read each, and each shows its own write, which this
// process did not hear about.
func TestAccountCacheRefreshesInBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		quiet := Options{Logger: slog.New(slog.DiscardHandler), AccountTTL: 10 * time.Second}
		mb, other := bus.NewMemory(), bus.NewMemory()
		t.Cleanup(func() { _ = mb.Close(); _ = other.Close() })
		s := NewService(db, mb, quiet)
		var mu sync.Mutex
		now := time.Now()
		s.accounts.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		writer := NewService(db, other, quiet) // another process, not heard
		type member struct{ guild, user int64 }
		delta := func(m member) int64 { return m.guild*1000 + m.user } // each its own, so a mixed-up row shows
		var all []member
		for u := int64(1); u <= 150; u++ {
			all = append(all, member{1, u})
		}
		for u := int64(1); u <= 20; u++ {
			all = append(all, member{2, u})
		}
		for _, m := range all {
			if _, _, err := writer.EnsureAccount(ctx, m.guild, Member{ID: m.user, Name: "m"}); err != nil {
				t.Fatal(err)
			}
		}
		balances := func() (stale int) {
			for _, m := range all {
				a, err := s.Balance(ctx, m.guild, m.user)
				if err != nil {
					t.Fatal(err)
				}
				if a.Balance != 100+delta(m) {
					stale++
				}
			}
			return stale
		}
		if stale := balances(); stale != len(all) { // cached at 100
			t.Fatalf("%d of %d balances not at 100", len(all)-stale, len(all))
		}
		for _, m := range all {
			if _, err := writer.Adjust(ctx, m.guild, Member{ID: m.user, Name: "m"}, 9, delta(m), "bonus"); err != nil {
				t.Fatal(err)
			}
		}
		batches0, points0 := statements(t, "GetBalances"), statements(t, "GetBalance")
		mu.Lock()
		now = now.Add(6 * time.Second) // past half the TTL: every entry due
		mu.Unlock()
		if stale := balances(); stale != len(all) {
			t.Fatalf("%d reads waited for the database", len(all)-stale)
		}
		deadline := time.Now().Add(10 * time.Second)
		for stale := balances(); stale > 0; stale = balances() {
			if time.Now().After(deadline) {
				t.Fatalf("%d balances never refreshed", stale)
			}
			time.Sleep(5 * time.Millisecond)
		}
		batches, points := statements(t, "GetBalances")-batches0, statements(t, "GetBalance")-points0
		// Two statements for guild 1 (128 + 22), one for guild 2; more only
		// if the reads straddled a gathering window.
		if batches < 3 || batches > 6 || points != 0 {
			t.Fatalf("refreshing %d balances took %d batch reads and %d point reads", len(all), batches, points)
		}
	})
}
