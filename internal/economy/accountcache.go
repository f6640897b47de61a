package economy

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/bus"
)

// TopicAccountsChanged carries the accounts a process wrote, so that every
// other process drops them from its account cache.
const TopicAccountsChanged = "accounts.changed"

// accountCache keeps accounts read by Balance, the API's and the bot's
// hottest read. Consistency:
//   - in the process that writes, a write is visible to every read that
//     starts after the write returns (the entry is dropped before it returns,
//     and a read that raced with the write is not cached: generations);
//   - other processes drop the entry when this process's notification
//     arrives on the bus (milliseconds with Redis); should it be lost (a
//     Redis blip, a full queue), the TTL bounds how long a stale balance is
//     served. Writes never read the cache: every rule runs on the database's
//     row, so a stale read can mislead a reader, never a write.
type accountCache struct {
	ttl    time.Duration // 0: the cache is off
	max    int           // entries per shard
	shards [accountShards]accountShard

	now    func() time.Time // real time: the TTL bounds real staleness
	origin uint64           // this process's id, to ignore its own notifications
	out    chan acctKey     // keys to announce to other processes
	flood  chan struct{}    // set when out overflowed: announce "drop everything"
}

const accountShards = 64

type acctKey struct{ guild, user int64 }

type accountShard struct {
	mu sync.RWMutex
	m  map[acctKey]*cachedAccount
	// gen counts invalidations of this shard, so that a read that raced with
	// one does not cache what it read.
	gen uint64
	_   [40]byte // keep shards on separate cache lines
}

type cachedAccount struct {
	a       Account
	fetched time.Time
	// refreshing is set by the read that starts this entry's refresh ahead
	// of its expiry, so that one read does; cleared again when that refresh
	// could not start or failed, so that a later read tries again rather
	// than the entry expiring and a read waiting for the database.
	refreshing atomic.Bool
}

func newAccountCache(ttl time.Duration, maxEntries int) *accountCache {
	c := &accountCache{
		ttl: ttl, max: max(maxEntries/accountShards, 1), now: time.Now,
		origin: rand.Uint64() | 1,
		out:    make(chan acctKey, 4096),
		flood:  make(chan struct{}, 1),
	}
	for i := range c.shards {
		c.shards[i].m = map[acctKey]*cachedAccount{}
	}
	return c
}

func (c *accountCache) shard(k acctKey) *accountShard {
	h := uint64(k.guild)*0x9E3779B97F4A7C15 ^ uint64(k.user)*0xC2B2AE3D27D4EB4F
	return &c.shards[(h>>32)%accountShards]
}

// get returns a cached account younger than the TTL, or the shard's
// generation to hand to put after reading the database. refresh is the
// entry, for the one read that should refresh it ahead of its expiry (it is
// past half its TTL), nil otherwise: the caller serves the cached account
// and refreshes it in the background, so that a balance read often does not
// wait for the database when its entry expires.
func (c *accountCache) get(k acctKey, now time.Time) (a Account, gen uint64, ok bool, refresh *cachedAccount) {
	if c.ttl <= 0 {
		return Account{}, 0, false, nil
	}
	sh := c.shard(k)
	sh.mu.RLock()
	e := sh.m[k]
	gen = sh.gen
	sh.mu.RUnlock()
	if e == nil {
		return Account{}, gen, false, nil
	}
	age := now.Sub(e.fetched)
	if age >= c.ttl {
		return Account{}, gen, false, nil
	}
	if age >= c.ttl/2 && !e.refreshing.Load() && e.refreshing.CompareAndSwap(false, true) {
		refresh = e
	}
	return e.a, gen, true, refresh
}

// generation is k's shard's count of invalidations, to hand to put after
// reading the database.
func (c *accountCache) generation(k acctKey) uint64 {
	sh := c.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.gen
}

// put caches a read unless an invalidation of its shard happened since gen,
// and reports whether it did.
func (c *accountCache) put(k acctKey, a Account, fetched time.Time, gen uint64) bool {
	if c.ttl <= 0 {
		return false
	}
	sh := c.shard(k)
	sh.mu.Lock()
	ok := sh.gen == gen
	if ok {
		if len(sh.m) >= c.max {
			for old := range sh.m { // full: evict an arbitrary entry
				delete(sh.m, old)
				break
			}
		}
		sh.m[k] = &cachedAccount{a: a, fetched: fetched}
	}
	sh.mu.Unlock()
	return ok
}

func (c *accountCache) drop(k acctKey) {
	sh := c.shard(k)
	sh.mu.Lock()
	delete(sh.m, k)
	sh.gen++
	sh.mu.Unlock()
}

func (c *accountCache) dropAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.gen++
		sh.mu.Unlock()
	}
}

// changed drops the accounts here, at once, and queues them for the other
// processes. It never blocks: when the queue is full, the next notification
// tells the others to drop everything.
func (c *accountCache) changed(guild int64, users ...int64) {
	for _, u := range users {
		k := acctKey{guild, u}
		c.drop(k)
		select {
		case c.out <- k:
		default:
			select {
			case c.flood <- struct{}{}:
			default:
			}
		}
	}
}

// Notification payload: the origin, then "*" (drop everything) or
// guild:user pairs, space separated.
func (c *accountCache) encode(keys []acctKey, all bool) []byte {
	b := strconv.AppendUint(nil, c.origin, 16)
	if all {
		return append(b, " *"...)
	}
	for _, k := range keys {
		b = append(b, ' ')
		b = strconv.AppendInt(b, k.guild, 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, k.user, 10)
	}
	return b
}

// apply handles another process's notification; it reports false for a
// malformed one.
func (c *accountCache) apply(payload []byte) bool {
	fields := strings.Fields(string(payload))
	if len(fields) < 2 {
		return false
	}
	origin, err := strconv.ParseUint(fields[0], 16, 64)
	if err != nil {
		return false
	}
	if origin == c.origin {
		return true
	}
	if fields[1] == "*" {
		c.dropAll()
		return true
	}
	for _, f := range fields[1:] {
		g, u, ok := strings.Cut(f, ":")
		guild, err1 := strconv.ParseInt(g, 10, 64)
		user, err2 := strconv.ParseInt(u, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			c.dropAll() // cannot tell which: be safe
			return false
		}
		c.drop(acctKey{guild, user})
	}
	return true
}

// run subscribes to other processes' notifications and announces this
// process's writes, a batch per publish, until ctx ends.
func (c *accountCache) run(ctx context.Context, b bus.Bus, log *slog.Logger) error {
	if c.ttl <= 0 {
		return nil
	}
	if _, err := b.Subscribe(ctx, TopicAccountsChanged, func(m bus.Message) {
		if !c.apply(m.Payload) {
			log.Warn("malformed account invalidation; dropped the account cache", "payload", string(m.Payload))
		}
	}); err != nil {
		return err
	}
	go func() {
		const batch = 256
		keys := make([]acctKey, 0, batch)
		for {
			all := false
			select {
			case <-ctx.Done():
				return
			case k := <-c.out:
				keys = append(keys, k)
			case <-c.flood:
				all = true
			}
		more:
			for !all && len(keys) < batch {
				select {
				case k := <-c.out:
					keys = append(keys, k)
				case <-c.flood:
					all = true
				default:
					break more
				}
			}
			if all { // what was queued is covered by "everything"
				for len(c.out) > 0 {
					<-c.out
				}
			}
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := b.Publish(pctx, TopicAccountsChanged, c.encode(keys, all)); err != nil {
				log.Warn("account invalidation not sent; other processes may show these balances until the cache TTL",
					"accounts", len(keys), "all", all, "ttl", c.ttl, "err", err)
			}
			cancel()
			keys = keys[:0]
		}
	}()
	return nil
}

// wrote reports whether an operation that returned err may have changed
// what it touched: it succeeded, or it failed in a way that leaves the
// outcome unknown (a timeout, a lost connection). Refusals change nothing.
func wrote(err error) bool { return err == nil || apperr.OutcomeUnknown(err) }

// AccountsChanged tells the account cache, here and in every other process,
// that these members' accounts in guild were written outside this service's
// own operations (another domain's transaction). Call it after the write
// commits, whatever its outcome when that is unknown.
func (s *Service) AccountsChanged(guild int64, users ...int64) {
	s.accounts.changed(guild, users...)
}
