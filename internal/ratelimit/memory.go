package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process GCRA limiter. Its state is one "theoretical arrival
// time" per key; keys whose time has passed hold no information (the bucket
// is full) and are swept, so the map stays as small as the set of busy keys.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	tat       map[string]time.Time
	lastSweep time.Time
}

// NewMemory returns an in-process limiter; now is the clock (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, tat: map[string]time.Time{}}
}

// Allow applies the same arithmetic as redis_rate's script, so both kinds
// report identical headers.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	now := m.now()
	// At least 1ns: above 1e9/s the division would give 0 and divide by zero below.
	interval := max(time.Second/time.Duration(max(l.Rate, 1)), time.Nanosecond)
	burstOffset := interval * time.Duration(max(l.Burst, 1))

	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)

	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(interval)
	diff := now.Sub(newTAT.Add(-burstOffset))
	if diff < 0 {
		return Result{Limit: l, Allowed: false, Remaining: 0, ResetAfter: tat.Sub(now), RetryAfter: -diff}, nil
	}
	m.tat[key] = newTAT
	return Result{Limit: l, Allowed: true, Remaining: int(diff / interval), ResetAfter: newTAT.Sub(now)}, nil
}

// sweep drops full buckets at most once a second.
func (m *Memory) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < time.Second {
		return
	}
	m.lastSweep = now
	for k, t := range m.tat {
		if !t.After(now) {
			delete(m.tat, k)
		}
	}
}

// Len is the number of keys with state, for tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tat)
}
