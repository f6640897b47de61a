//go:build !race

package bot_test

import (
	"testing"

	"github.com/smarterdev/smarterdev/internal/discord/emulator"
)

// Reconnects and drops exercise disgo v0.19.6's gateway, which races with
// itself (docs/emulator.md); `make test` runs this in its pass without -race.

// The bot resumes after Discord asks it to reconnect (op 7) and after the
// connection drops, and keeps serving; the resumes are counted.
func TestSurvivesReconnectAndDrop(t *testing.T) {
	e := slowHeartbeatEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	waitHeartbeats := func(when string) {
		t.Helper()
		// disgo v0.19.6 races on a close before the connection's first
		// heartbeat (docs/emulator.md).
		eventually(t, "a heartbeat on every connection "+when, func() bool {
			n := 0
			for _, s := range e.Sessions() {
				if s.Connected && s.Heartbeats > 0 {
					n++
				}
			}
			return n == 2
		})
	}
	resumes := func() int {
		n := 0
		for _, s := range e.Sessions() {
			n += s.Resumes
		}
		return n
	}
	resumed0 := scrapeMetric(t, `smarterdev_gateway_resumes_total{shard="0"}`) + scrapeMetric(t, `smarterdev_gateway_resumes_total{shard="1"}`)
	say := func(user string) {
		t.Helper()
		id, err := e.Say(r.d.GuildID, r.d.General, r.d.Members[user], "still there?")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, user+"'s reward", func() bool { return messageReactions(e, r.d.General, id) == 1 })
	}

	waitHeartbeats("before the reconnect")
	if n, err := e.Gateway(emulator.ActionReconnect, -1); err != nil || n != 2 {
		t.Fatalf("reconnect: %d %v", n, err)
	}
	eventually(t, "both shards resumed", func() bool { return resumes() >= 2 })
	waitReady(t, e, 2, r.bot)
	say("gopher_gary")

	waitHeartbeats("before the drop")
	if n, err := e.Gateway(emulator.ActionDrop, 1); err != nil || n != 1 {
		t.Fatalf("drop: %d %v", n, err)
	}
	// A message while the shard is away is replayed on resume.
	id, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["rusty_rita"], "anyone?")
	eventually(t, "shard 1 resumed", func() bool { return resumes() >= 3 })
	eventually(t, "the reward of the message sent while away", func() bool { return messageReactions(e, r.d.General, id) == 1 })
	waitReady(t, e, 2, r.bot)
	say("quiet_quinn")

	got := scrapeMetric(t, `smarterdev_gateway_resumes_total{shard="0"}`) + scrapeMetric(t, `smarterdev_gateway_resumes_total{shard="1"}`)
	if got < resumed0+3 {
		t.Errorf("resumes counted %v, want at least %v", got, resumed0+3)
	}
	st := r.bot.Status()
	if len(st.Shards) != 2 || !st.Shards[0].Connected || !st.Shards[1].Connected || st.Shards[1].Resumes < 2 {
		t.Errorf("status after resumes: %+v", st)
	}
}
