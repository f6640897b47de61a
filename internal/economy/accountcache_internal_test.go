package economy

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
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

// A refresh that cannot start (every slot busy) leaves the entry for a
// later read to refresh: otherwise the entry would only expire, and a read
// would then wait for the database, under exactly the load that filled the
// slots.
func TestAccountCacheRetriesASkippedRefresh(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, advance, read := refreshFixture(t, db, Member{ID: 6, Name: "fay"})
		for range cap(s.accounts.refreshers) { // every refresh slot busy
			s.accounts.refreshers <- struct{}{}
		}
		advance(6 * time.Second) // past half the TTL: this read's refresh finds no room
		if b := read(); b != 100 {
			t.Fatalf("read %d", b)
		}
		for range cap(s.accounts.refreshers) {
			<-s.accounts.refreshers
		}
		// Still within the TTL: only a refresh shows the write.
		waitForRefresh(t, read, "a skipped refresh is never tried again before the entry expires")
	})
}
