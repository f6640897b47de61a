package bot_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/rolesync"
)

// runRoleSync relays the outbox and runs the role worker against the emulator.
func runRoleSync(t *testing.T, r *rig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := rolesync.New(r.bus, bot.NewREST(bot.RESTOptions{Token: r.e.BotToken(), APIURL: r.e.APIURL()}),
		rolesync.Options{Logger: testLogger(), Consume: bus.ConsumeOptions{Backoff: func(int) time.Duration { return 20 * time.Millisecond }}})
	relay := outbox.NewRelay(r.db, r.bus, outbox.Options{Interval: 20 * time.Millisecond, Logger: testLogger()})
	done := make(chan struct{}, 2)
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	go func() { _ = relay.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
}

func hasRole(e *emulator.Emulator, g, u, role emulator.ID) bool {
	m, ok := e.Member(g, u)
	return ok && m.HasRole(role)
}

func TestSquadJoinFlow(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	gophers, rustaceans := setupSquads(t, r)
	runRoleSync(t, r)
	waitReady(t, e, 2, r.bot)
	quinn, gary := r.d.Members["quiet_quinn"], r.d.Members["gopher_gary"]
	gRole, rRole := r.d.Roles[emulator.RoleGophers], r.d.Roles[emulator.RoleRustaceans]

	// /squads join: a select menu with every squad, its cost and members.
	it := r.command(t, quinn, "squads join")
	embeds, _ := responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "**Gophers** · cost 0 · 0/10 members · ✅ can join") {
		t.Fatalf("join menu: %s", txt)
	}
	pick := customIDWith(it, "squads:pick:")
	if pick == "" {
		t.Fatalf("no select menu: %v", it.Original.CustomIDs())
	}

	// Someone else cannot use quinn's menu.
	other, err := e.Select(r.d.BotCommands, it.Original.ID, gary, pick, strconv.FormatInt(gophers.ID, 10))
	if err != nil {
		t.Fatal(err)
	}
	oit := await(t, e, other)
	embeds, eph := responseEmbeds(t, oit)
	if txt := embedText(embeds); !eph || oit.ResponseType != 4 || !strings.Contains(txt, "Not your menu") {
		t.Fatalf("foreign click (type %d, ephemeral %v): %s", oit.ResponseType, eph, txt)
	}

	// Picking shows the confirmation with the cost.
	sel, err := e.Select(r.d.BotCommands, it.Original.ID, quinn, pick, strconv.FormatInt(gophers.ID, 10))
	if err != nil {
		t.Fatal(err)
	}
	sit := await(t, e, sel)
	embeds, _ = responseEmbeds(t, sit)
	if txt := embedText(embeds); sit.ResponseType != 7 || !strings.Contains(txt, "Join **Gophers** for free") {
		t.Fatalf("confirmation (type %d): %s", sit.ResponseType, txt)
	}
	it, _ = e.Interaction(it.ID)
	confirm := customIDWith(it, "squads:join:")
	if confirm == "" {
		t.Fatalf("no confirm button: %v", it.Original.CustomIDs())
	}
	cl, _ := e.Click(r.d.BotCommands, it.Original.ID, quinn, confirm)
	cit := await(t, e, cl)
	embeds, _ = responseEmbeds(t, cit)
	if txt := embedText(embeds); cit.ResponseType != 7 || !strings.Contains(txt, "Welcome to Gophers") {
		t.Fatalf("joined (type %d): %s", cit.ResponseType, txt)
	}
	eventually(t, "the Gophers role on quinn", func() bool { return hasRole(e, r.d.GuildID, quinn, gRole) })

	// A switch costs 50 and swaps the roles.
	it = r.command(t, quinn, "squads join")
	pick = customIDWith(it, "squads:pick:")
	sel, _ = e.Select(r.d.BotCommands, it.Original.ID, quinn, pick, strconv.FormatInt(rustaceans.ID, 10))
	sit = await(t, e, sel)
	embeds, _ = responseEmbeds(t, sit)
	if txt := embedText(embeds); !strings.Contains(txt, "Switch from **Gophers** to **Rustaceans** for **50** bytes") || !strings.Contains(txt, "100 → **50**") {
		t.Fatalf("switch confirmation: %s", txt)
	}
	it, _ = e.Interaction(it.ID)
	cl, _ = e.Click(r.d.BotCommands, it.Original.ID, quinn, customIDWith(it, "squads:join:"))
	await(t, e, cl)
	eventually(t, "roles swapped", func() bool {
		return hasRole(e, r.d.GuildID, quinn, rRole) && !hasRole(e, r.d.GuildID, quinn, gRole)
	})
	if got := balance(t, r.econ, r.d.GuildID, quinn); got != 50 {
		t.Errorf("balance after the switch %d, want 50", got)
	}

	// An expired confirmation is refused and the menu says so.
	it = r.command(t, quinn, "squads leave")
	leave := customIDWith(it, "squads:leave:")
	r.skew.Store(61)
	cl, _ = e.Click(r.d.BotCommands, it.Original.ID, quinn, leave)
	cit = await(t, e, cl)
	embeds, _ = responseEmbeds(t, cit)
	if txt := embedText(embeds); cit.ResponseType != 7 || !strings.Contains(txt, "expired") {
		t.Fatalf("expired click (type %d): %s", cit.ResponseType, txt)
	}
	if m, _ := r.sq.Of(context.Background(), int64(r.d.GuildID), int64(quinn)); m.Squad.ID != rustaceans.ID {
		t.Errorf("an expired leave changed the squad to %+v", m.Squad)
	}
	r.skew.Store(0)

	// Leaving with confirmation removes the role.
	it = r.command(t, quinn, "squads leave")
	cl, _ = e.Click(r.d.BotCommands, it.Original.ID, quinn, customIDWith(it, "squads:leave:"))
	cit = await(t, e, cl)
	embeds, _ = responseEmbeds(t, cit)
	if txt := embedText(embeds); !strings.Contains(txt, "Left Rustaceans") {
		t.Fatalf("leave: %s", txt)
	}
	eventually(t, "the Rustaceans role removed", func() bool { return !hasRole(e, r.d.GuildID, quinn, rRole) })

	it = r.command(t, quinn, "squads leave")
	embeds, eph = responseEmbeds(t, it)
	if txt := embedText(embeds); !eph || !strings.Contains(txt, "Not in a squad") {
		t.Errorf("leave without squad (ephemeral %v): %s", eph, txt)
	}
	it = r.command(t, quinn, "squads list")
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "Gophers") || !strings.Contains(txt, "Rustaceans") {
		t.Errorf("list: %s", txt)
	}
}
