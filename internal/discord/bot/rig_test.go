package bot_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/commands"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
)

// rig is one bot process: its own services over a shared database and bus.
type rig struct {
	e      *emulator.Emulator
	d      *emulator.Demo
	db     *store.DB
	bus    bus.Bus
	econ   *economy.Service
	sq     *squads.Service
	mod    *moderation.Service
	bot    *bot.Bot
	router *commands.Router
	skew   *atomic.Int64 // added to the router's clock, in seconds
	cancel context.CancelFunc
	done   chan error
	expiry chan struct{} // closes when the router's RunExpiry returned
}

func testLogger() *slog.Logger {
	if os.Getenv("BOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	e := emulator.New(emulator.Options{Shards: 2, HeartbeatInterval: 500 * time.Millisecond})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.SeedDemo()
	t.Cleanup(e.Close)
	return e
}

func startRig(t *testing.T, e *emulator.Emulator, db *store.DB, b bus.Bus) *rig {
	t.Helper()
	return startRigLogged(t, e, db, b, testLogger())
}

// startRigLogged is startRig with the services and the bot logging to log.
func startRigLogged(t *testing.T, e *emulator.Emulator, db *store.DB, b bus.Bus, log *slog.Logger) *rig {
	t.Helper()
	return startRigWith(t, e, db, b, log, nil)
}

// startRigWith is startRigLogged with the bot's options adjusted by opt.
func startRigWith(t *testing.T, e *emulator.Emulator, db *store.DB, b bus.Bus, log *slog.Logger, opt func(*bot.Options)) *rig {
	t.Helper()
	r := &rig{e: e, d: e.Demo(), db: db, bus: b, skew: &atomic.Int64{}, done: make(chan error, 1), expiry: make(chan struct{})}
	r.econ = economy.NewService(db, b, economy.Options{Logger: log})
	r.sq = squads.NewService(db, r.econ)
	r.mod = moderation.NewService(db, b, moderation.Options{Logger: log})
	if err := r.mod.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.router = commands.NewRouter(commands.Deps{Economy: r.econ, Squads: r.sq, Moderation: r.mod, Bus: b, Logger: log,
		Now: func() time.Time { return time.Now().Add(time.Duration(r.skew.Load()) * time.Second) }})
	o := bot.Options{Token: e.BotToken(), APIURL: e.APIURL(), GuildID: int64(r.d.GuildID),
		Router: r.router, Economy: r.econ, Moderation: r.mod, Logger: log}
	if opt != nil {
		opt(&o)
	}
	r.bot = bot.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.bot.Run(ctx) }()
	go func() { defer close(r.expiry); _ = r.router.RunExpiry(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop waits for a heartbeat on every session first, and for the bot to
// have handled the last dispatch the emulator sent each: disgo v0.19.6 races
// on close otherwise (docs/emulator.md), its read loop recording a
// dispatch's sequence number as the close clears it.
func (r *rig) stop() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		handled := map[int]int{}
		for _, sh := range r.bot.Status().Shards {
			handled[sh.ID] = sh.Seq
		}
		ok := true
		for _, s := range r.e.Sessions() {
			ok = ok && (!s.Connected || s.Heartbeats > 0 && handled[s.ShardID] >= s.Seq)
		}
		if ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
	<-r.expiry
}

// waitReady waits until n sessions are connected and the bot reports ready.
func waitReady(t *testing.T, e *emulator.Emulator, n int, bots ...*bot.Bot) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		connected := 0
		for _, s := range e.Sessions() {
			if s.Connected {
				connected++
			}
		}
		ready := connected >= n
		for _, b := range bots {
			ready = ready && b.Rest() != nil && b.Ready(context.Background()) == nil
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot not ready: %d sessions connected, want %d: %+v", connected, n, e.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answer runs a command and returns the answered interaction.
func (r *rig) command(t *testing.T, user emulator.ID, command string, opts ...emulator.Option) *emulator.Interaction {
	t.Helper()
	id, err := r.e.RunCommand(r.d.GuildID, r.d.BotCommands, user, command, opts...)
	if err != nil {
		t.Fatalf("run %s: %v", command, err)
	}
	it, err := r.e.AwaitResponse(ctx10(t), id)
	if err != nil {
		t.Fatalf("await %s: %v", command, err)
	}
	return it
}

func await(t *testing.T, e *emulator.Emulator, id emulator.ID) *emulator.Interaction {
	t.Helper()
	it, err := e.AwaitResponse(ctx10(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// responseEmbeds decodes the embeds of an interaction's first answer.
func responseEmbeds(t *testing.T, it *emulator.Interaction) (embeds []map[string]any, ephemeral bool) {
	t.Helper()
	var data struct {
		Embeds []map[string]any `json:"embeds"`
		Flags  int              `json:"flags"`
	}
	if err := json.Unmarshal(it.ResponseData, &data); err != nil {
		t.Fatalf("decode response %s: %v", it.ResponseData, err)
	}
	return data.Embeds, data.Flags&64 != 0
}

func embedText(embeds []map[string]any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(embeds)
	return b.String()
}
