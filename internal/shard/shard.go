// Package shard spreads what every request writes over one cache line per
// processor. A counter that all cores add to moves its cache line from core
// to core on every add; on the two cores this project is measured on, that
// trip costs more than the rest of a metric's update (see
// docs/PERFORMANCE.md, issue 6, seventh pass). Each processor adds to its own
// shard instead, and readers, which are rare (a scrape, a flush), sum them.
//
// Which shard is a processor's comes from a sync.Pool of tokens: the pool
// keeps a token per processor (P) and hands it back to the same processor
// without any shared write. After a garbage collection empties the pool a
// processor may draw another token, or share one with another processor for
// a while: that costs speed, never a count, since every shard is updated
// atomically.
package shard

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Max bounds the shards of one value: beyond it processors share shards.
const Max = 64

var (
	count  = shardsFor(runtime.GOMAXPROCS(0))
	next   atomic.Uint32
	tokens = sync.Pool{New: func() any { return &token{i: int(next.Add(1)-1) % count} }}
)

type token struct{ i int }

// shardsFor is procs rounded up to a power of two, at most Max.
func shardsFor(procs int) int {
	n := 1
	for n < procs && n < Max {
		n *= 2
	}
	return n
}

// N is the number of shards of every value: the processors when the
// process started (GOMAXPROCS), rounded up to a power of two, at most Max.
func N() int { return count }

// Index is the shard of the processor the caller runs on, in [0, N()).
// Write right after asking: a goroutine that blocks in between may resume
// on another processor (which costs speed, not correctness).
func Index() int {
	t := tokens.Get().(*token)
	i := t.i
	tokens.Put(t)
	return i
}

// Int64 is a counter whose adds go to the caller's processor's shard.
type Int64 struct{ s []paddedInt64 }

type paddedInt64 struct {
	v atomic.Int64
	_ [56]byte // a cache line each
}

// NewInt64 returns a counter at zero.
func NewInt64() *Int64 { return &Int64{s: make([]paddedInt64, count)} }

// Add adds d.
func (c *Int64) Add(d int64) { c.s[Index()].v.Add(d) }

// AddAt adds d to shard i, from Index(): for a caller that updates several
// sharded values at once and asks for the index once.
func (c *Int64) AddAt(i int, d int64) { c.s[i&(len(c.s)-1)].v.Add(d) }

// Load returns the sum of the shards: exact when no add runs meanwhile,
// otherwise some value the counter held during the call or since.
func (c *Int64) Load() int64 {
	var n int64
	for i := range c.s {
		n += c.s[i].v.Load()
	}
	return n
}

// Take returns the sum and sets the counter to zero, losing no add that
// runs meanwhile: each is in the sum or left in the counter.
func (c *Int64) Take() int64 {
	var n int64
	for i := range c.s {
		n += c.s[i].v.Swap(0)
	}
	return n
}
