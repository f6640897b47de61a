//go:build !race

package bot_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/discord/emulator"
)

// Under -race the bot holds disgo's heartbeat goroutine until the ACK is
// handled (fenceHandler, for the race detector), which disgo then takes for
// a missing ACK (docs/emulator.md); `make test` runs this in its pass
// without -race.

// countingHandler counts the records whose message contains want.
type countingHandler struct {
	want string
	n    *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.want) {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// An idle bot keeps its shards' sessions across many heartbeats: the
// emulator ACKs each at once, and disgo v0.19.6 must not take that fast ACK
// for a missing one ("connection went zombie"), drop the connection and
// resume. It did at every second heartbeat of each connection: with the
// sandbox's 1 s interval, a zombie reconnect every 3 s per shard in `make run`.
func TestFastHeartbeatAcksKeepTheConnection(t *testing.T) {
	e := emulator.New(emulator.Options{Shards: 2, HeartbeatInterval: 500 * time.Millisecond})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.SeedDemo()
	t.Cleanup(e.Close)
	zombies := &atomic.Int64{}
	r := startRigLogged(t, e, sqliteDB(t), memBus(t), slog.New(countingHandler{want: "went zombie", n: zombies}))
	waitReady(t, e, 2, r.bot)

	// 6 heartbeats on each shard's connection; before the fix the second
	// one never came: the connection went zombie first.
	const beats = 6
	deadline := time.Now().Add(12 * time.Second)
	for {
		done, resumed := 0, 0
		for _, s := range e.Sessions() {
			resumed += s.Resumes
			if s.Connected && s.Heartbeats >= beats {
				done++
			}
		}
		if done == 2 || resumed > 0 || zombies.Load() > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sessions := e.Sessions()
	resumes := 0
	for _, s := range sessions {
		resumes += s.Resumes
	}
	if z := zombies.Load(); z != 0 || resumes != 0 || len(sessions) != 2 {
		t.Errorf("zombie warnings %d, resumes %d, sessions %d; want 0, 0, 2: %+v", z, resumes, len(sessions), sessions)
	}
	for _, s := range sessions {
		if !s.Connected || s.Heartbeats < beats {
			t.Errorf("shard %d: connected %v, %d heartbeats on its connection, want %d", s.ShardID, s.Connected, s.Heartbeats, beats)
		}
	}
	st := r.bot.Status()
	for _, s := range st.Shards {
		if s.Resumes != 0 || s.Reconnects != 0 {
			t.Errorf("bot status, shard %d: %d resumes, %d reconnects; want none", s.ID, s.Resumes, s.Reconnects)
		}
	}
}
