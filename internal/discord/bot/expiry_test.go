package bot_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
)

// disabledByID maps every custom_id of a message's components to whether
// the component is disabled.
func disabledByID(t *testing.T, m *emulator.Message) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(m.Components, &v); err != nil {
		t.Fatalf("components %s: %v", m.Components, err)
	}
	out := map[string]bool{}
	var walk func(any)
	walk = func(x any) {
		switch c := x.(type) {
		case []any:
			for _, e := range c {
				walk(e)
			}
		case map[string]any:
			if id, _ := c["custom_id"].(string); id != "" {
				d, _ := c["disabled"].(bool)
				out[id] = d
			}
			walk(c["components"])
		}
	}
	walk(v)
	return out
}

// webhookCalls counts REST calls on interaction webhooks (reading or
// editing an answer).
func webhookCalls(e *emulator.Emulator) int {
	return restCalls(e, "GET", "/webhooks/") + restCalls(e, "PATCH", "/webhooks/")
}

// A menu left alone shows disabled once its 60 s pass, with a note naming
// the command that opens it again; a foreign click does not keep it open.
func TestMenuExpiresUnused(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	gophers, _ := setupSquads(t, r)
	waitReady(t, e, 2, r.bot)
	quinn, gary := r.d.Members["quiet_quinn"], r.d.Members["gopher_gary"]

	for _, c := range []struct{ command, title, again string }{
		{"squads join", "Join a squad", "/squads join"},
		{"squads leave", "Leave Gophers?", "/squads leave"},
	} {
		t.Run(c.command, func(t *testing.T) {
			if c.command == "squads leave" {
				if _, err := r.sq.Join(context.Background(), int64(r.d.GuildID), economy.Member{ID: int64(quinn), Name: "quinn"}, gophers.ID); err != nil {
					t.Fatal(err)
				}
			}
			r.skew.Store(0)
			it := r.command(t, quinn, c.command)
			shown := it.Original.CustomIDs()
			if len(shown) < 2 {
				t.Fatalf("no menu: %v", shown)
			}
			for id, disabled := range disabledByID(t, it.Original) {
				if disabled {
					t.Fatalf("%s disabled from the start", id)
				}
			}
			// Someone else's click is refused with a message of its own and
			// leaves the menu, and its expiry, as they were.
			other, err := e.Click(r.d.BotCommands, it.Original.ID, gary, shown[0])
			if err != nil {
				t.Fatal(err)
			}
			if oit := await(t, e, other); oit.ResponseType != 4 {
				t.Fatalf("foreign click answered with type %d, want a new message (4)", oit.ResponseType)
			}
			if n := r.router.ExpireDue(ctx10(t)); n != 0 {
				t.Fatalf("%d menus expired before their time", n)
			}

			r.skew.Store(61) // RunExpiry notices the clock within a second
			eventually(t, "the expiry edit", func() bool {
				it, _ = e.Interaction(it.ID)
				return len(it.Edits) > 0
			})
			if len(it.Edits) != 1 || it.Edits[0].Method != "PATCH" || it.Edits[0].Target != "@original" {
				t.Fatalf("edits %+v, want one PATCH of @original", it.Edits)
			}
			states := disabledByID(t, it.Original)
			if len(states) != len(shown) {
				t.Fatalf("components after expiry %v, want the %d shown", states, len(shown))
			}
			for _, id := range shown {
				if !states[id] {
					t.Errorf("%s not disabled after expiry: %v", id, states)
				}
			}
			txt := embedText(it.Original.EmbedList())
			if !strings.Contains(txt, "Expired") || !strings.Contains(txt, "`"+c.again+"` again") {
				t.Errorf("no expiry note naming %s: %s", c.again, txt)
			}
			if title, _ := it.Original.EmbedList()[0]["title"].(string); title != c.title {
				t.Errorf("the menu's own embed became %q, want it kept (%q)", title, c.title)
			}
		})
	}
}

// A pick replaces the menu and so its expiry; a confirmed click cancels the
// expiry: no edit, not even a read of the message.
func TestMenuExpiryFollowsClicks(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	gophers, _ := setupSquads(t, r)
	waitReady(t, e, 2, r.bot)
	quinn := r.d.Members["quiet_quinn"]
	gid := strconv.FormatInt(gophers.ID, 10)

	// pickAt opens the join menu and picks a squad skew seconds later; it
	// returns the command's interaction and the pick's.
	pickAt := func(skew int64) (*emulator.Interaction, emulator.ID) {
		t.Helper()
		it := r.command(t, quinn, "squads join")
		r.skew.Store(skew)
		sel, err := e.Select(r.d.BotCommands, it.Original.ID, quinn, customIDWith(it, "squads:pick:"), gid)
		if err != nil {
			t.Fatal(err)
		}
		if sit := await(t, e, sel); sit.ResponseType != 7 {
			t.Fatalf("pick answered with type %d, want an update (7)", sit.ResponseType)
		}
		it, _ = e.Interaction(it.ID)
		if customIDWith(it, "squads:join:") == "" {
			t.Fatalf("no confirmation: %v", it.Original.CustomIDs())
		}
		return it, sel
	}

	t.Run("a pick replaces the expiry", func(t *testing.T) {
		r.skew.Store(0)
		it, sel := pickAt(50) // the confirmation expires at 110 s
		e.ClearLog()
		r.skew.Store(61) // the first menu's time, not the confirmation's
		if n := r.router.ExpireDue(ctx10(t)); n != 0 || webhookCalls(e) != 0 {
			t.Fatalf("expired %d menus with %d webhook calls at 61 s, want none", n, webhookCalls(e))
		}
		confirm := customIDWith(it, "squads:join:")
		r.skew.Store(111)
		eventually(t, "the confirmation disabled", func() bool {
			it, _ = e.Interaction(it.ID)
			return disabledByID(t, it.Original)[confirm]
		})
		if states := disabledByID(t, it.Original); len(states) != 2 || !states[customIDWith(it, "squads:cancel:")] {
			t.Fatalf("confirmation after expiry: %v", states)
		}
		// Edited through the pick's token, which answered with this menu.
		if pit, _ := e.Interaction(sel); len(pit.Edits) != 1 || pit.Edits[0].Method != "PATCH" {
			t.Fatalf("edits of the pick %+v, want one PATCH", pit.Edits)
		}
		if txt := embedText(it.Original.EmbedList()); !strings.Contains(txt, "Confirm: join Gophers") || !strings.Contains(txt, "`/squads join` again") {
			t.Fatalf("confirmation after expiry: %s", txt)
		}
	})

	t.Run("a confirmed click cancels the expiry", func(t *testing.T) {
		r.skew.Store(200)
		it, _ := pickAt(210)
		cl, err := e.Click(r.d.BotCommands, it.Original.ID, quinn, customIDWith(it, "squads:join:"))
		if err != nil {
			t.Fatal(err)
		}
		if cit := await(t, e, cl); cit.ResponseType != 7 {
			t.Fatalf("confirm answered with type %d", cit.ResponseType)
		}
		e.ClearLog()
		r.skew.Store(400)
		// ExpireDue waits for a pass of RunExpiry in progress, so after it
		// every menu due has been handled by one or the other.
		if n := r.router.ExpireDue(ctx10(t)); n != 0 {
			t.Fatalf("%d menus expired after the confirmation", n)
		}
		if n := webhookCalls(e); n != 0 {
			t.Fatalf("%d webhook calls after the confirmation: the expiry was not cancelled", n)
		}
		it, _ = e.Interaction(it.ID)
		txt := embedText(it.Original.EmbedList())
		if !strings.Contains(txt, "Welcome to Gophers") || strings.Contains(txt, "Expired") || len(it.Edits) != 0 {
			t.Fatalf("after the confirmation (edits %+v): %s", it.Edits, txt)
		}
		if ids := it.Original.CustomIDs(); len(ids) != 0 {
			t.Fatalf("components left after the confirmation: %v", ids)
		}
	})
}
