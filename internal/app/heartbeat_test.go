package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
)

// The web role's "bot" component is optional: a stale heartbeat degrades
// /readyz (200, "degraded"), a fresh one brings it back up.
func TestBotHeartbeatReadiness(t *testing.T) {
	env := sqliteEnv(t)
	r := start(t, env, "web")
	cfg, err := config.Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := store.Open(context.Background(), cfg.DatabaseURL.Value(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	hs := botstatus.DB{DB: sdb}
	write := func(at time.Time, connected bool) {
		t.Helper()
		st := "ready"
		if !connected {
			st = "disconnected"
		}
		if err := hs.Write(context.Background(), botstatus.Heartbeat{Instance: "bot-1", At: at, ShardCount: 1,
			Shards: []botstatus.Shard{{ID: 0, Status: st, Connected: connected}}}); err != nil {
			t.Fatal(err)
		}
	}
	component := func() (int, string, string) {
		code, body := get(t, "http://"+r.addr+"/readyz")
		var rep readiness
		_ = json.Unmarshal([]byte(body), &rep)
		return code, rep.Status, rep.Components["bot"].Status + " " + rep.Components["bot"].Error
	}
	write(time.Now().Add(-2*time.Minute), true)
	if code, status, bot := component(); code != 200 || status != "degraded" || !strings.HasPrefix(bot, "degraded no bot heartbeat") {
		t.Fatalf("stale heartbeat: %d %s %s", code, status, bot)
	}
	write(time.Now(), false)
	if code, status, bot := component(); code != 200 || status != "degraded" || !strings.Contains(bot, "shard 0 (bot-1)") {
		t.Fatalf("disconnected shard: %d %s %s", code, status, bot)
	}
	write(time.Now(), true)
	if code, status, bot := component(); code != 200 || status != "ready" || bot != "up " {
		t.Fatalf("fresh heartbeat: %d %s %s", code, status, bot)
	}
}
