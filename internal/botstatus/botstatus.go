// Package botstatus is the bot's heartbeat: every bot process writes what
// its gateway shards are doing every ~10 s (to Redis when the deployment has
// it, to the database otherwise), and any process reads the heartbeats: the
// web role for /readyz and /status.json, the worker for the BotDisconnected
// alert. It holds no secrets: shard ids and states, times, version, pid.
package botstatus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"
)

// Timings of the heartbeat.
const (
	// Interval is how often a bot process writes its heartbeat.
	Interval = 10 * time.Second
	// MaxAge is how old a heartbeat may be and still count as alive (three
	// missed writes); also the Redis key's TTL.
	MaxAge = 30 * time.Second
)

// Heartbeat is one bot process's report.
type Heartbeat struct {
	Instance        string    `json:"instance"` // host-pid-random, unique per process
	PID             int       `json:"pid"`
	Host            string    `json:"host"`
	Version         string    `json:"version"`
	At              time.Time `json:"at"`         // when it was written
	StartedAt       time.Time `json:"started_at"` // when the process started
	LastEvent       time.Time `json:"last_event,omitzero"`
	ShardCount      int       `json:"shard_count"`
	ShardsConnected int       `json:"shards_connected"`
	Shards          []Shard   `json:"shards"`
}

// Shard is one gateway shard in a heartbeat.
type Shard struct {
	ID         int       `json:"id"`
	Status     string    `json:"status"` // disgo's gateway status: ready, resuming, disconnected, ...
	Connected  bool      `json:"connected"`
	LatencyMS  float64   `json:"latency_ms"` // last heartbeat round trip
	Reconnects int       `json:"reconnects"` // new sessions after the first
	Resumes    int       `json:"resumes"`
	LastEvent  time.Time `json:"last_event,omitzero"`
}

// Disconnected lists the shards of h that are not connected.
func (h Heartbeat) Disconnected() []int {
	var out []int
	for _, s := range h.Shards {
		if !s.Connected {
			out = append(out, s.ID)
		}
	}
	return out
}

// Store keeps the heartbeats.
type Store interface {
	Write(ctx context.Context, h Heartbeat) error
	// Read returns every heartbeat the store still holds, fresh or not,
	// ordered by instance.
	Read(ctx context.Context) ([]Heartbeat, error)
}

// Instance names this process: host, pid and a random suffix (pids repeat
// across containers).
func Instance() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Fresh returns the heartbeats written within MaxAge of now.
func Fresh(hs []Heartbeat, now time.Time) []Heartbeat {
	var out []Heartbeat
	for _, h := range hs {
		if now.Sub(h.At) <= MaxAge {
			out = append(out, h)
		}
	}
	return out
}

// Publish writes the heartbeat that status returns at once and then every
// interval until ctx ends. A failed write is logged and retried next time:
// readers see the heartbeat age and say so.
func Publish(ctx context.Context, s Store, interval time.Duration, log *slog.Logger, status func() Heartbeat) error {
	if interval <= 0 {
		interval = Interval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		err := s.Write(ctx, status())
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("bot heartbeat not written; retrying", "err", err, "retry_in", interval)
			failing = true
		case err == nil && failing:
			log.Info("bot heartbeat written again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ErrNoHeartbeat is the readiness error when no bot process reported lately.
var ErrNoHeartbeat = errors.New("no bot heartbeat")

// Check is the web role's readiness check "bot": it fails when no bot
// process wrote a heartbeat within MaxAge, and names the disconnected
// shards of those that did. While no heartbeat was ever seen it passes
// during grace after since (a web process may start before the bot).
func Check(s Store, since time.Time, grace time.Duration, now func() time.Time) func(ctx context.Context) error {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context) error {
		hs, err := s.Read(ctx)
		if err != nil {
			return fmt.Errorf("read bot heartbeats: %w", err)
		}
		t := now()
		fresh := Fresh(hs, t)
		if len(fresh) == 0 {
			if len(hs) == 0 && t.Sub(since) < grace {
				return nil
			}
			if len(hs) == 0 {
				return fmt.Errorf("%w: no bot process has reported", ErrNoHeartbeat)
			}
			latest := hs[0].At
			for _, h := range hs {
				if h.At.After(latest) {
					latest = h.At
				}
			}
			return fmt.Errorf("%w for %s (the last one is older than %s)", ErrNoHeartbeat, t.Sub(latest).Round(time.Second), MaxAge)
		}
		// A bot process still within its start-up grace is connecting.
		var settled []Heartbeat
		for _, h := range fresh {
			if h.At.Sub(h.StartedAt) >= grace {
				settled = append(settled, h)
			}
		}
		return Disconnected(settled)
	}
}

// Disconnected reports the shards that fresh heartbeats say are down, or nil.
func Disconnected(fresh []Heartbeat) error {
	var down []string
	for _, h := range fresh {
		for _, id := range h.Disconnected() {
			down = append(down, fmt.Sprintf("shard %d (%s)", id, h.Instance))
		}
		if len(h.Shards) == 0 {
			down = append(down, "no shard open ("+h.Instance+")")
		}
	}
	if len(down) == 0 {
		return nil
	}
	sort.Strings(down)
	return errors.New("disconnected: " + strings.Join(down, ", "))
}
