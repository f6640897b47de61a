package bot_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func sqliteDB(t *testing.T) *store.DB { return storetest.Open(t, store.SQLite) }

func memBus(t *testing.T) bus.Bus {
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConnectsShardsAndRegistersCommands(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	shards := map[int]bool{}
	for _, s := range e.Sessions() {
		if s.ShardCount != 2 {
			t.Errorf("shard count %d, want Discord's recommendation 2", s.ShardCount)
		}
		if s.Intents != int64(bot.Intents) {
			t.Errorf("intents %d, want %d", s.Intents, int64(bot.Intents))
		}
		shards[s.ShardID] = true
	}
	if !shards[0] || !shards[1] {
		t.Errorf("shards %v, want 0 and 1", shards)
	}
	names := map[string]emulator.ID{}
	for _, c := range e.Commands() {
		names[c.Name] = c.GuildID
	}
	want := []string{"bytes", "squads", "warn", "timeout", "kick", "ban", "unban", "case", "cases"}
	ok := len(names) == len(want)
	for _, n := range want {
		ok = ok && names[n] == r.d.GuildID
	}
	if !ok {
		t.Errorf("registered commands %v, want %v in guild %s", names, want, r.d.GuildID)
	}
}

func messageReactions(e *emulator.Emulator, ch, msg emulator.ID) int {
	for _, m := range e.Messages(ch) {
		if m.ID == msg {
			n := 0
			for _, r := range m.Reactions {
				if r.Emoji == bot.RewardEmoji {
					n += len(r.Users)
				}
			}
			return n
		}
	}
	return 0
}

func balance(t *testing.T, econ *economy.Service, g, u emulator.ID) int64 {
	t.Helper()
	a, err := econ.Balance(context.Background(), int64(g), int64(u))
	if err != nil {
		t.Fatalf("balance: %v", err)
	}
	return a.Balance
}

func TestDailyRewardOncePerDay(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	gary := r.d.Members["gopher_gary"]

	first, _ := e.Say(r.d.GuildID, r.d.General, gary, "good morning")
	eventually(t, "the reward reaction", func() bool { return messageReactions(e, r.d.General, first) == 1 })
	if got := balance(t, r.econ, r.d.GuildID, gary); got != 110 {
		t.Fatalf("balance after the first message %d, want 100 + 10", got)
	}
	second, _ := e.Say(r.d.GuildID, r.d.General, gary, "me again")
	// A later message from someone else proves the second was handled.
	marker, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["quiet_quinn"], "hi")
	eventually(t, "the marker's reaction", func() bool { return messageReactions(e, r.d.General, marker) == 1 })
	if n := messageReactions(e, r.d.General, second); n != 0 {
		t.Errorf("second message got %d reactions", n)
	}
	if got := balance(t, r.econ, r.d.GuildID, gary); got != 110 {
		t.Errorf("balance after the second message %d, want 110", got)
	}

	// Ten messages at once from one member: one reward, one reaction.
	rita := r.d.Members["rusty_rita"]
	var ids []emulator.ID
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			id, err := e.Say(r.d.GuildID, r.d.General, rita, fmt.Sprintf("burst %d", i))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
	}
	wg.Wait()
	total := func() int {
		n := 0
		for _, id := range ids {
			n += messageReactions(e, r.d.General, id)
		}
		return n
	}
	eventually(t, "one reaction in the burst", func() bool { return total() == 1 })
	marker2, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["newbie_ned"], "hi")
	eventually(t, "the second marker's reaction", func() bool { return messageReactions(e, r.d.General, marker2) == 1 })
	if n := total(); n != 1 {
		t.Errorf("burst got %d reactions, want 1", n)
	}
	if got := balance(t, r.econ, r.d.GuildID, rita); got != 110 {
		t.Errorf("rita's balance %d, want 110", got)
	}
}

// Two bot processes (each with its own services and memory) on one
// database see the same messages: one reward per member.
// A reaction held back by Discord's rate limit must not hold back the next
// member's reward: with one claim in flight allowed, the second member is
// paid while the first member's reaction is still being refused.
func TestDailyAckDoesNotHoldClaims(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	e := newEmulator(t)
	r := startRigWith(t, e, db, memBus(t), testLogger(), func(o *bot.Options) { o.ClaimConcurrency = 1 })
	waitReady(t, e, 2, r.bot)
	if err := e.Fault(emulator.FaultSpec{Route: "PUT /channels/{ch}/messages/{m}/reactions/{emoji}/@me", Status: 429, RetryAfter: 5}); err != nil {
		t.Fatal(err)
	}
	first, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["gopher_gary"], "good morning")
	eventually(t, "the first reaction refused", func() bool {
		for _, c := range e.Log() {
			if c.Status == 429 {
				return true
			}
		}
		return false
	})
	second, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["rusty_rita"], "morning all")
	eventually(t, "the second member paid", func() bool {
		a, err := r.econ.Balance(context.Background(), int64(r.d.GuildID), int64(r.d.Members["rusty_rita"]))
		return err == nil && a.Balance == 110
	})
	if n := messageReactions(e, r.d.General, first); n != 0 {
		t.Fatalf("the first reaction went through (%d) before the second member was paid: the test proves nothing", n)
	}
	e.ClearFaults()
	eventually(t, "both reactions once Discord accepts them", func() bool {
		return messageReactions(e, r.d.General, first) == 1 && messageReactions(e, r.d.General, second) == 1
	})
}

func TestDailyRewardAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEmulator(t)
		b := memBus(t)
		r1 := startRig(t, e, db, b)
		r2 := startRig(t, e, db, b)
		waitReady(t, e, 4, r1.bot, r2.bot)
		var msgs []emulator.ID
		for _, name := range []string{"gopher_gary", "rusty_rita", "quiet_quinn"} {
			for i := range 3 {
				id, _ := e.Say(r1.d.GuildID, r1.d.General, r1.d.Members[name], "hello "+strconv.Itoa(i))
				msgs = append(msgs, id)
			}
		}
		eventually(t, "three reactions", func() bool {
			n := 0
			for _, id := range msgs {
				n += messageReactions(e, r1.d.General, id)
			}
			return n == 3
		})
		for _, name := range []string{"gopher_gary", "rusty_rita", "quiet_quinn"} {
			if got := balance(t, r1.econ, r1.d.GuildID, r1.d.Members[name]); got != 110 {
				t.Errorf("%s: balance %d, want 110", name, got)
			}
		}
	})
}

func TestBytesCommands(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	gary, rita := r.d.Members["gopher_gary"], r.d.Members["rusty_rita"]

	it := r.command(t, gary, "bytes send", emulator.Opt("user", rita.String()), emulator.Opt("amount", 30), emulator.Opt("reason", "thanks"))
	embeds, eph := responseEmbeds(t, it)
	txt := embedText(embeds)
	if eph || it.ResponseType != 4 || !strings.Contains(txt, "Bytes sent") || !strings.Contains(txt, "70 bytes") || !strings.Contains(txt, "130 bytes") {
		t.Fatalf("send answer (type %d, ephemeral %v): %s", it.ResponseType, eph, txt)
	}

	it = r.command(t, gary, "bytes send", emulator.Opt("user", rita.String()), emulator.Opt("amount", 500))
	embeds, eph = responseEmbeds(t, it)
	txt = embedText(embeds)
	if !eph || !strings.Contains(txt, "Not enough bytes") || !strings.Contains(txt, "**70**") || !strings.Contains(txt, "**500**") {
		t.Fatalf("overdraft answer (ephemeral %v): %s", eph, txt)
	}
	if got := balance(t, r.econ, r.d.GuildID, gary); got != 70 {
		t.Errorf("gary's balance %d after a refused overdraft, want 70", got)
	}

	it = r.command(t, gary, "bytes send", emulator.Opt("user", r.d.BotID.String()), emulator.Opt("amount", 5))
	embeds, eph = responseEmbeds(t, it)
	if txt := embedText(embeds); !eph || !strings.Contains(txt, "Bots cannot receive bytes") {
		t.Errorf("send to the bot (ephemeral %v): %s", eph, txt)
	}

	it = r.command(t, rita, "bytes read")
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "130 bytes") || !strings.Contains(txt, "Received") || !strings.Contains(txt, "Streak") {
		t.Errorf("read: %s", txt)
	}
	it = r.command(t, rita, "bytes read", emulator.Opt("user", r.d.Members["newbie_ned"].String()))
	embeds, eph = responseEmbeds(t, it)
	if txt := embedText(embeds); !eph || !strings.Contains(txt, "No bytes yet") {
		t.Errorf("read of a member without account (ephemeral %v): %s", eph, txt)
	}

	it = r.command(t, gary, "bytes heap", emulator.Opt("limit", 5))
	embeds, _ = responseEmbeds(t, it)
	txt = embedText(embeds)
	if !strings.Contains(txt, "**1.** <@"+rita.String()+"> · 130 bytes") || !strings.Contains(txt, "Your rank: #2 with 70 bytes") {
		t.Errorf("heap: %s", txt)
	}
}

func setupSquads(t *testing.T, r *rig) (gophers, rustaceans squads.Squad) {
	t.Helper()
	ctx := context.Background()
	g := int64(r.d.GuildID)
	var err error
	gophers, err = r.sq.Create(ctx, g, 0, squads.Spec{Name: "Gophers", RoleID: int64(r.d.Roles[emulator.RoleGophers]), SwitchCost: 50, MaxMembers: 10, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	rustaceans, err = r.sq.Create(ctx, g, 0, squads.Spec{Name: "Rustaceans", RoleID: int64(r.d.Roles[emulator.RoleRustaceans]), SwitchCost: 50, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return gophers, rustaceans
}

func customIDWith(it *emulator.Interaction, prefix string) string {
	for _, id := range it.Original.CustomIDs() {
		if strings.HasPrefix(id, prefix) {
			return id
		}
	}
	return ""
}
