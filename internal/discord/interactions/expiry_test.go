package interactions_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/commands"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/discord/interactions"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// httpRig serves interactions over POST /interactions in front of the
// Discord emulator. The emulator does not call an interactions endpoint, so
// deliver plays Discord's part: it posts the signed interaction and hands
// the HTTP answer to the emulator's callback route.
type httpRig struct {
	t       *testing.T
	e       *emulator.Emulator
	d       *emulator.Demo
	rest    rest.Rest
	pub     ed25519.PublicKey
	key     ed25519.PrivateKey
	econ    *economy.Service
	sq      *squads.Service
	bus     bus.Bus
	skew    atomic.Int64 // added to every replica's clock, in seconds
	gophers squads.Squad
}

func newHTTPRig(t *testing.T) *httpRig {
	t.Helper()
	h := &httpRig{t: t, e: emulator.NewTest(t)}
	h.d = h.e.Demo()
	h.pub, h.key, _ = ed25519.GenerateKey(nil)
	h.rest = bot.NewREST(bot.RESTOptions{Token: h.e.BotToken(), APIURL: h.e.APIURL()})
	app, err := snowflake.Parse(h.e.ClientID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.rest.SetGuildCommands(app, h.d.GuildID, commands.Definitions()); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, store.SQLite)
	h.bus = bus.NewMemory()
	t.Cleanup(func() { _ = h.bus.Close() })
	h.econ = economy.NewService(db, h.bus, economy.Options{})
	h.sq = squads.NewService(db, h.econ)
	h.gophers, err = h.sq.Create(context.Background(), int64(h.d.GuildID), 0,
		squads.Spec{Name: "Gophers", RoleID: int64(h.d.Roles[emulator.RoleGophers]), SwitchCost: 50, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// replica is one web process: its own router, running its menu expiry, and
// its own /interactions endpoint over the shared database.
type replica struct {
	srv    *httptest.Server
	router *commands.Router
}

func (h *httpRig) replica() *replica {
	h.t.Helper()
	router := commands.NewRouter(commands.Deps{Economy: h.econ, Squads: h.sq, Bus: h.bus,
		Now: func() time.Time { return time.Now().Add(time.Duration(h.skew.Load()) * time.Second) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = router.RunExpiry(ctx) }()
	srv := httptest.NewServer(interactions.Handler(interactions.Options{PublicKey: hex.EncodeToString(h.pub), Router: router, Rest: h.rest}))
	h.t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return &replica{srv: srv, router: router}
}

// deliver sends the emulator's interaction it to a replica as Discord would
// and records the replica's answer with the emulator.
func (h *httpRig) deliver(to *replica, it *emulator.Interaction) {
	h.t.Helper()
	payload := map[string]any{
		"id": it.ID.String(), "application_id": h.e.ClientID(), "type": it.Type, "token": it.Token, "version": 1,
		"guild_id": it.GuildID.String(), "channel_id": it.ChannelID.String(),
		"channel": map[string]any{"id": it.ChannelID.String(), "type": 0, "guild_id": it.GuildID.String()},
		"member": map[string]any{"user": map[string]any{"id": it.UserID.String(), "username": "member"},
			"roles": []string{}, "permissions": "0"},
		"data": it.Data,
	}
	if it.MessageID != 0 {
		payload["message"] = json.RawMessage(h.get("/channels/" + it.ChannelID.String() + "/messages/" + it.MessageID.String()))
	}
	body, _ := json.Marshal(payload)
	code, answer := post(h.t, to.srv.URL, h.key, string(body), false)
	if code != http.StatusOK {
		h.t.Fatalf("/interactions: %d %s", code, answer)
	}
	req, _ := http.NewRequest(http.MethodPost, h.e.APIURL()+"/interactions/"+it.ID.String()+"/"+it.Token+"/callback", strings.NewReader(answer))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		h.t.Fatalf("callback of %s: %d %s", answer, res.StatusCode, b)
	}
}

func (h *httpRig) get(path string) []byte {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.e.APIURL()+path, nil)
	req.Header.Set("Authorization", "Bot "+h.e.BotToken())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return b
}

// command makes quinn run command and delivers it to a replica.
func (h *httpRig) command(to *replica, command string) *emulator.Interaction {
	h.t.Helper()
	it, err := h.e.Interact(emulator.InteractionSpec{Kind: "command", GuildID: h.d.GuildID, ChannelID: h.d.BotCommands,
		UserID: h.d.Members["quiet_quinn"], Command: command})
	if err != nil {
		h.t.Fatal(err)
	}
	h.deliver(to, it)
	got, _ := h.e.Interaction(it.ID)
	if got.Original == nil || len(got.Original.CustomIDs()) == 0 {
		h.t.Fatalf("%s: no menu in %+v", command, got)
	}
	return got
}

func (h *httpRig) webhookCalls(method string) int {
	n := 0
	for _, l := range h.e.Log() {
		if l.Method == method && strings.Contains(l.Path, "/webhooks/") {
			n++
		}
	}
	return n
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

// A menu answered over HTTP interactions is disabled by the web process
// that answered it, through the interaction webhook, once its 60 s pass.
func TestMenuExpiresOverHTTP(t *testing.T) {
	h := newHTTPRig(t)
	web := h.replica()
	it := h.command(web, "squads join")
	shown := it.Original.CustomIDs()

	h.skew.Store(61)
	eventually(t, "the menu disabled", func() bool {
		it, _ = h.e.Interaction(it.ID)
		return len(it.Edits) > 0
	})
	var comps []struct {
		Components []struct {
			CustomID string `json:"custom_id"`
			Disabled bool   `json:"disabled"`
		} `json:"components"`
	}
	if err := json.Unmarshal(it.Original.Components, &comps); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, row := range comps {
		for _, c := range row.Components {
			n++
			if !c.Disabled {
				t.Errorf("%s not disabled", c.CustomID)
			}
		}
	}
	if n != len(shown) {
		t.Errorf("%d components after expiry, want the %d shown", n, len(shown))
	}
	var embeds bytes.Buffer
	_ = json.Compact(&embeds, it.Original.Embeds)
	if !strings.Contains(embeds.String(), "Join a squad") || !strings.Contains(embeds.String(), "Expired — run `/squads join` again") {
		t.Errorf("embeds after expiry: %s", embeds.String())
	}
}

// With several web replicas, a click may reach another replica than the
// menu: the first replica's expiry then reads the message, sees the menu
// answered, and does not overwrite the answer.
func TestExpiryLeavesMenuAnsweredElsewhere(t *testing.T) {
	h := newHTTPRig(t)
	a, b := h.replica(), h.replica()
	quinn := h.d.Members["quiet_quinn"]
	if _, err := h.sq.Join(context.Background(), int64(h.d.GuildID), economy.Member{ID: int64(quinn), Name: "quinn"}, h.gophers.ID); err != nil {
		t.Fatal(err)
	}
	it := h.command(a, "squads leave")
	var leave string
	for _, id := range it.Original.CustomIDs() {
		if strings.HasPrefix(id, "squads:leave:") {
			leave = id
		}
	}
	click, err := h.e.Interact(emulator.InteractionSpec{Kind: "button", ChannelID: h.d.BotCommands, UserID: quinn,
		MessageID: it.Original.ID, CustomID: leave})
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(b, click)
	if mem, err := h.sq.Of(context.Background(), int64(h.d.GuildID), int64(quinn)); err == nil {
		t.Fatalf("still in %s after leaving", mem.Squad.Name)
	}
	h.e.ClearLog()

	h.skew.Store(61)
	// Replica a reads the message back (so it had the menu pending) ...
	eventually(t, "replica a reading the menu back", func() bool { return h.webhookCalls("GET") > 0 })
	// ... and, once its pass is over, has not edited it.
	if n := a.router.ExpireDue(context.Background()); n != 0 {
		t.Fatalf("replica a disabled %d menus", n)
	}
	if n := h.webhookCalls("PATCH"); n != 0 {
		t.Fatalf("%d edits after the menu was answered elsewhere", n)
	}
	it, _ = h.e.Interaction(it.ID)
	if s := string(it.Original.Embeds); !strings.Contains(s, "Left Gophers") || strings.Contains(s, "Expired") || len(it.Original.CustomIDs()) != 0 {
		t.Fatalf("the answer was overwritten: %s %v", s, it.Original.CustomIDs())
	}
}
