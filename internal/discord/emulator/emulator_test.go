package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo"
	"github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/cache"
	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/disgo/sharding"
	"github.com/disgoorg/omit"
	"github.com/gorilla/websocket"
)

const testIntents = gateway.IntentGuilds | gateway.IntentGuildMembers | gateway.IntentGuildMessages |
	gateway.IntentMessageContent | gateway.IntentGuildModeration | gateway.IntentDirectMessages

// syncMu works around data races inside disgo v0.19.6's gateway, whose
// heartbeat goroutine shares fields with the read loop and Close without
// locking. Both disgo's logger (the heartbeat goroutine logs before touching
// them) and our event listener (the read loop calls it after writing them) go
// through syncMu, which gives the race detector the ordering disgo lacks.
var syncMu sync.Mutex

type syncHandler struct{}

func (syncHandler) Enabled(context.Context, slog.Level) bool { return true }
func (syncHandler) Handle(context.Context, slog.Record) error {
	syncMu.Lock()
	//lint:ignore SA2001 the lock only orders memory, see syncMu
	syncMu.Unlock()
	return nil
}
func (h syncHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h syncHandler) WithGroup(string) slog.Handler      { return h }

// recorder keeps every gateway event the bot saw so tests can wait for one.
type recorder struct {
	mu     sync.Mutex
	events []bot.Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(ev bot.Event) {
	syncMu.Lock()
	//lint:ignore SA2001 the lock only orders memory, see syncMu
	syncMu.Unlock()
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitFor returns the first recorded event of type T matching pred.
func waitFor[T bot.Event](t *testing.T, r *recorder, pred func(T) bool) T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			if v, ok := ev.(T); ok && (pred == nil || pred(v)) {
				r.mu.Unlock()
				return v
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			var zero T
			t.Fatalf("timed out waiting for %T", zero)
			return zero
		}
	}
}

func count[T bot.Event](r *recorder, pred func(T) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if v, ok := ev.(T); ok && (pred == nil || pred(v)) {
			n++
		}
	}
	return n
}

func newBot(t *testing.T, e *Emulator, opts ...bot.ConfigOpt) (*bot.Client, *recorder) {
	t.Helper()
	rec := newRecorder()
	base := []bot.ConfigOpt{
		bot.WithRestClientConfigOpts(rest.WithURL(e.APIURL())),
		bot.WithGatewayConfigOpts(gateway.WithIntents(testIntents), gateway.WithCompression(gateway.CompressionNone)),
		bot.WithEventListenerFunc(rec.add),
		bot.WithCacheConfigOpts(cache.WithCaches(cache.FlagsAll)),
		bot.WithLogger(slog.New(syncHandler{})),
	}
	client, err := disgo.New(e.BotToken(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("disgo.New: %v", err)
	}
	t.Cleanup(func() { closeBot(t, e, client) })
	return client, rec
}

// awaitHeartbeat waits until every connected session has heartbeated on its
// current connection.
func awaitHeartbeat(t *testing.T, e *Emulator) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		for _, s := range e.Sessions() {
			ok = ok && (!s.Connected || s.Heartbeats > 0)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat: %+v", e.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeBot works around a data race in disgo v0.19.6: the heartbeat goroutine
// stores its cancel func unsynchronised and Close reads it. After one
// heartbeat (which logs through syncMu) taking syncMu orders the two.
func closeBot(t *testing.T, e *Emulator, client *bot.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	awaitHeartbeat(t, e)
	syncMu.Lock()
	//lint:ignore SA2001 the lock only orders memory, see syncMu
	syncMu.Unlock()
	client.Close(ctx)
}

func openBot(t *testing.T, e *Emulator, opts ...bot.ConfigOpt) (*bot.Client, *recorder) {
	t.Helper()
	client, rec := newBot(t, e, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.OpenGateway(ctx); err != nil {
		t.Fatalf("OpenGateway: %v", err)
	}
	return client, rec
}

func TestReadyGuildCreateAndMessage(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	client, rec := openBot(t, e)

	ready := waitFor[*events.Ready](t, rec, nil)
	if ready.User.ID != e.ApplicationID() || len(ready.Guilds) != 1 || ready.Guilds[0].ID != d.GuildID {
		t.Fatalf("unexpected READY: user=%v guilds=%v", ready.User.ID, ready.Guilds)
	}
	gr := waitFor[*events.GuildReady](t, rec, nil)
	if gr.Guild.Name != "Smarter Dev Demo" || len(gr.Guild.Members) != 9 || len(gr.Guild.Channels) != 4 || len(gr.Guild.Roles) != 8 {
		t.Fatalf("GUILD_CREATE: name=%q members=%d channels=%d roles=%d", gr.Guild.Name, len(gr.Guild.Members),
			len(gr.Guild.Channels), len(gr.Guild.Roles))
	}
	gary := d.Members["gopher_gary"]
	m, ok := client.Caches.Member(d.GuildID, gary)
	if !ok || m.User.Username != "gopher_gary" || len(m.RoleIDs) != 2 {
		t.Fatalf("member cache: ok=%v %+v", ok, m)
	}
	if created := m.User.CreatedAt(); created.Year() != 2019 {
		t.Fatalf("account age from snowflake: %v", created)
	}

	if _, err := e.Say(d.GuildID, d.General, gary, "hello bot"); err != nil {
		t.Fatal(err)
	}
	mc := waitFor[*events.MessageCreate](t, rec, func(ev *events.MessageCreate) bool { return ev.Message.Content == "hello bot" })
	if mc.Message.Author.ID != gary || mc.Message.ChannelID != d.General || mc.Message.GuildID == nil || *mc.Message.GuildID != d.GuildID {
		t.Fatalf("MESSAGE_CREATE: %+v", mc.Message)
	}

	// The bot replies through REST and the reply is visible through the Go API.
	sent, err := client.Rest.CreateMessage(d.General, discord.MessageCreate{Content: "hi gary",
		MessageReference: &discord.MessageReference{MessageID: &mc.Message.ID}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.Messages(d.General)
	if len(msgs) != 2 || msgs[1].ID != sent.ID || msgs[1].Content != "hi gary" || msgs[1].Type != 19 {
		t.Fatalf("channel messages: %+v", msgs)
	}
	// Validation errors come back the way Discord sends them.
	_, err = client.Rest.CreateMessage(d.General, discord.MessageCreate{Content: strings.Repeat("x", 2001)})
	var rerr *rest.Error
	if !errors.As(err, &rerr) || rerr.Code != 50035 || !strings.Contains(string(rerr.Errors), "BASE_TYPE_MAX_LENGTH") {
		t.Fatalf("want 50035, got %v", err)
	}
	_, err = client.Rest.GetMember(d.GuildID, 12345)
	if !errors.As(err, &rerr) || rerr.Code != 10007 || rerr.Response.StatusCode != 404 {
		t.Fatalf("want 10007, got %v", err)
	}
}

func TestCommandsInteractionButton(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	var seenMember sync.Map
	// disgo v0.19.6 reads rate-limit bucket fields without its lock when
	// logging, so the test never calls a route while a handler still is.
	handled := make(chan struct{}, 4)
	client, rec := openBot(t, e,
		bot.WithEventListenerFunc(func(ev *events.ApplicationCommandInteractionCreate) {
			data := ev.SlashCommandInteractionData()
			who := data.Member("who")
			seenMember.Store("who", who.User.Username)
			seenMember.Store("sub", *data.SubCommandName)
			_ = ev.CreateMessage(discord.MessageCreate{
				Embeds:     []discord.Embed{{Title: "Join " + data.String("squad"), Description: "for " + who.User.Username}},
				Components: []discord.LayoutComponent{discord.NewActionRow(discord.NewPrimaryButton("Join", "join:"+data.String("squad")))},
			})
			handled <- struct{}{}
		}),
		bot.WithEventListenerFunc(func(ev *events.ComponentInteractionCreate) {
			content := "joined via " + ev.Data.CustomID()
			empty := []discord.LayoutComponent{}
			_ = ev.UpdateMessage(discord.MessageUpdate{Content: &content, Components: &empty})
			handled <- struct{}{}
		}),
	)
	waitFor[*events.GuildReady](t, rec, nil)

	cmds, err := client.Rest.SetGlobalCommands(client.ApplicationID, []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "squad", Description: "Squads", Options: []discord.ApplicationCommandOption{
			discord.ApplicationCommandOptionSubCommand{Name: "join", Description: "Join a squad", Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionString{Name: "squad", Description: "which", Required: true},
				discord.ApplicationCommandOptionUser{Name: "who", Description: "who"},
			}},
		}},
		discord.SlashCommandCreate{Name: "ping", Description: "Ping"},
	})
	if err != nil || len(cmds) != 2 {
		t.Fatalf("SetGlobalCommands: %v %v", cmds, err)
	}
	back, err := client.Rest.GetGlobalCommands(client.ApplicationID, false)
	if err != nil || len(back) != 2 || back[0].Name() != "squad" || back[0].ID() != cmds[0].ID() {
		t.Fatalf("GetGlobalCommands: %v %v", back, err)
	}
	// Overwriting keeps ids of same-named commands and drops the rest.
	again, err := client.Rest.SetGlobalCommands(client.ApplicationID, []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "squad", Description: "Squads v2", Options: []discord.ApplicationCommandOption{
			discord.ApplicationCommandOptionSubCommand{Name: "join", Description: "Join a squad", Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionString{Name: "squad", Description: "which", Required: true},
				discord.ApplicationCommandOptionUser{Name: "who", Description: "who"},
			}},
		}},
	})
	if err != nil || len(again) != 1 || again[0].ID() != cmds[0].ID() || len(e.Commands()) != 1 {
		t.Fatalf("overwrite: %v %v %d", again, err, len(e.Commands()))
	}
	_, err = client.Rest.SetGlobalCommands(client.ApplicationID, []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "Bad Name", Description: "x"}})
	var rerr *rest.Error
	if !errors.As(err, &rerr) || rerr.Code != 50035 {
		t.Fatalf("invalid command name accepted: %v", err)
	}

	gary, ned := d.Members["gopher_gary"], d.Members["newbie_ned"]
	id, err := e.RunCommand(d.GuildID, d.BotCommands, gary, "squad join", Opt("squad", "gophers"), Opt("who", ned))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it, err := e.AwaitResponse(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	<-handled
	if it.ResponseType != 4 || it.Original == nil {
		t.Fatalf("response: %+v", it)
	}
	embeds := it.Original.EmbedList()
	if len(embeds) != 1 || embeds[0]["title"] != "Join gophers" || embeds[0]["description"] != "for newbie_ned" {
		t.Fatalf("embeds: %v", embeds)
	}
	if ids := it.Original.CustomIDs(); len(ids) != 1 || ids[0] != "join:gophers" {
		t.Fatalf("custom ids: %v", ids)
	}
	if v, _ := seenMember.Load("sub"); v != "join" {
		t.Fatalf("subcommand seen by bot: %v", v)
	}
	// The reply is a real channel message.
	msgs := e.Messages(d.BotCommands)
	if len(msgs) != 1 || msgs[0].ID != it.Original.ID {
		t.Fatalf("channel messages: %+v", msgs)
	}
	// A second callback for the same interaction is refused like on Discord.
	err = client.Rest.CreateInteractionResponse(id, it.Token, discord.InteractionResponse{Type: discord.InteractionResponseTypeDeferredCreateMessage})
	if !errors.As(err, &rerr) || rerr.Code != 40060 {
		t.Fatalf("double ack: %v", err)
	}

	click, err := e.Click(d.BotCommands, it.Original.ID, gary, "join:gophers")
	if err != nil {
		t.Fatal(err)
	}
	cit, err := e.AwaitResponse(ctx, click)
	if err != nil {
		t.Fatal(err)
	}
	<-handled
	if cit.ResponseType != 7 {
		t.Fatalf("click response type %d", cit.ResponseType)
	}
	msgs = e.Messages(d.BotCommands)
	if msgs[0].Content != "joined via join:gophers" || len(msgs[0].CustomIDs()) != 0 || msgs[0].EditedTimestamp == nil {
		t.Fatalf("updated message: %+v", msgs[0])
	}
	if _, err := e.Click(d.BotCommands, it.Original.ID, gary, "nope"); !errors.Is(err, ErrBadInteraction) {
		t.Fatalf("clicking a missing button: %v", err)
	}
}

func TestRoleAddEmitsMemberUpdate(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	client, rec := openBot(t, e)
	waitFor[*events.GuildReady](t, rec, nil)
	rita, role := d.Members["rusty_rita"], d.Roles[RoleGophers]

	if err := client.Rest.AddMemberRole(d.GuildID, rita, role); err != nil {
		t.Fatal(err)
	}
	up := waitFor[*events.GuildMemberUpdate](t, rec, func(ev *events.GuildMemberUpdate) bool { return ev.Member.User.ID == rita })
	found := false
	for _, r := range up.Member.RoleIDs {
		found = found || r == role
	}
	if !found {
		t.Fatalf("GUILD_MEMBER_UPDATE roles: %v", up.Member.RoleIDs)
	}
	if m, _ := e.Member(d.GuildID, rita); !m.HasRole(role) {
		t.Fatalf("emulator state lacks role: %+v", m)
	}
	// Timeouts and hierarchy: the bot may time out a regular member but not the admin.
	until := time.Now().Add(time.Hour)
	if _, err := client.Rest.UpdateMember(d.GuildID, rita, discord.MemberUpdate{CommunicationDisabledUntil: omitTime(until)}); err != nil {
		t.Fatal(err)
	}
	if m, _ := e.Member(d.GuildID, rita); !m.TimedOut() {
		t.Fatalf("timeout not stored: %+v", m)
	}
	_, err := client.Rest.UpdateMember(d.GuildID, d.AdminID, discord.MemberUpdate{CommunicationDisabledUntil: omitTime(until)})
	var rerr *rest.Error
	if !errors.As(err, &rerr) || rerr.Code != 50013 {
		t.Fatalf("timing out the admin: %v", err)
	}
	if err := client.Rest.AddMemberRole(d.GuildID, rita, 42); !errors.As(err, &rerr) || rerr.Code != 10011 {
		t.Fatalf("unknown role: %v", err)
	}
	// Ban: GUILD_BAN_ADD then GUILD_MEMBER_REMOVE, and the ban is in the state.
	tom := d.Members["trouble_tom"]
	if err := client.Rest.AddBan(d.GuildID, tom, 0); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.GuildBan](t, rec, func(ev *events.GuildBan) bool { return ev.User.ID == tom })
	waitFor[*events.GuildMemberLeave](t, rec, func(ev *events.GuildMemberLeave) bool { return ev.User.ID == tom })
	g, _ := e.Guild(d.GuildID)
	if len(g.Bans) != 1 || g.Bans[0].User.ID != tom {
		t.Fatalf("bans: %+v", g.Bans)
	}
	// A member joining through the control API reaches the bot.
	newID, err := e.AddMember(d.GuildID, MemberSpec{Username: "late_larry"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor[*events.GuildMemberJoin](t, rec, func(ev *events.GuildMemberJoin) bool { return ev.Member.User.ID == newID })
}

func TestResumeReplaysMissedEvents(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	_, rec := openBot(t, e)
	waitFor[*events.GuildReady](t, rec, nil)

	// disgo only synchronises its heartbeat state after the first heartbeat.
	awaitHeartbeat(t, e)
	if n, _ := e.Gateway(ActionDrop, -1); n != 1 {
		t.Fatalf("dropped %d sessions", n)
	}
	// Sent while the bot is disconnected: only a RESUME replay can deliver it.
	if _, err := e.Say(d.GuildID, d.General, d.OwnerID, "while you were away"); err != nil {
		t.Fatal(err)
	}
	waitFor[*events.Resumed](t, rec, nil)
	waitFor[*events.MessageCreate](t, rec, func(ev *events.MessageCreate) bool { return ev.Message.Content == "while you were away" })
	if n := count[*events.Ready](rec, nil); n != 1 {
		t.Fatalf("bot identified %d times, want a resume", n)
	}
	s := e.Sessions()
	if len(s) != 1 || s[0].Resumes != 1 || !s[0].Connected {
		t.Fatalf("sessions: %+v", s)
	}

}

// rawClient speaks the gateway protocol by hand, for flows where disgo itself
// is racy (it handles op 7 and op 9 without synchronising its heartbeat state).
type rawClient struct {
	t  *testing.T
	ws *websocket.Conn
}

type rawMsg struct {
	Op int             `json:"op"`
	S  int             `json:"s"`
	T  string          `json:"t"`
	D  json.RawMessage `json:"d"`
}

func dialRaw(t *testing.T, e *Emulator) *rawClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(e.GatewayURL()+"?v=10&encoding=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	if m := c.next(); m.Op != 10 {
		t.Fatalf("want HELLO, got %+v", m)
	}
	return c
}

func (c *rawClient) send(op int, d any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(obj{"op": op, "d": d}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) next() rawMsg {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m rawMsg
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// until reads until a message matches and returns it.
func (c *rawClient) until(pred func(rawMsg) bool) rawMsg {
	c.t.Helper()
	for {
		if m := c.next(); pred(m) {
			return m
		}
	}
}

func TestRawReconnectResumeInvalidate(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	c := dialRaw(t, e)
	c.send(2, obj{"token": e.BotToken(), "intents": testIntents, "properties": obj{"os": "linux"}})
	ready := c.until(func(m rawMsg) bool { return m.T == "READY" })
	var rd struct {
		SessionID string `json:"session_id"`
		ResumeURL string `json:"resume_gateway_url"`
	}
	_ = json.Unmarshal(ready.D, &rd)
	if rd.SessionID == "" || rd.ResumeURL != e.GatewayURL() {
		t.Fatalf("READY: %s", ready.D)
	}
	gc := c.until(func(m rawMsg) bool { return m.T == "GUILD_CREATE" })
	lastSeq := gc.S

	if n, _ := e.Gateway(ActionReconnect, 0); n != 1 {
		t.Fatal("reconnect hit no session")
	}
	c.until(func(m rawMsg) bool { return m.Op == 7 })
	c.ws.Close()
	// Missed while reconnecting; the RESUME must replay it before RESUMED.
	if _, err := e.Say(d.GuildID, d.General, d.OwnerID, "missed"); err != nil {
		t.Fatal(err)
	}
	c = dialRaw(t, e)
	c.send(6, obj{"token": e.BotToken(), "session_id": rd.SessionID, "seq": lastSeq})
	replay := c.next()
	if replay.T != "MESSAGE_CREATE" || replay.S != lastSeq+1 || !strings.Contains(string(replay.D), `"missed"`) {
		t.Fatalf("replay: %+v %s", replay, replay.D)
	}
	if m := c.next(); m.T != "RESUMED" || m.S != lastSeq+2 {
		t.Fatalf("want RESUMED, got %+v", m)
	}

	if n, _ := e.Gateway(ActionInvalidate, -1); n != 1 {
		t.Fatal("invalidate hit no session")
	}
	if m := c.until(func(m rawMsg) bool { return m.Op == 9 }); string(m.D) != "false" {
		t.Fatalf("INVALID_SESSION d=%s", m.D)
	}
	// The invalidated session cannot be resumed any more.
	c = dialRaw(t, e)
	c.send(6, obj{"token": e.BotToken(), "session_id": rd.SessionID, "seq": lastSeq + 2})
	if m := c.next(); m.Op != 9 {
		t.Fatalf("resume of invalid session: %+v", m)
	}
	// Heartbeats are acknowledged.
	c.send(1, nil)
	if m := c.next(); m.Op != 11 {
		t.Fatalf("want ACK, got %+v", m)
	}
}

func TestHeartbeatTimeoutDropsSilentClient(t *testing.T) {
	t.Parallel()
	e := New(Options{HeartbeatInterval: 200 * time.Millisecond})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	e.SeedDemo()
	ws, _, err := websocket.DefaultDialer.Dial(e.GatewayURL()+"?v=10&encoding=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hello struct {
		Op int `json:"op"`
		D  struct {
			HeartbeatInterval int `json:"heartbeat_interval"`
		} `json:"d"`
	}
	if err := ws.ReadJSON(&hello); err != nil || hello.Op != 10 || hello.D.HeartbeatInterval != 200 {
		t.Fatalf("HELLO: %+v %v", hello, err)
	}
	// One heartbeat is answered with an ACK...
	if err := ws.WriteJSON(obj{"op": 1, "d": nil}); err != nil {
		t.Fatal(err)
	}
	var ack struct{ Op int }
	if err := ws.ReadJSON(&ack); err != nil || ack.Op != 11 {
		t.Fatalf("ACK: %+v %v", ack, err)
	}
	start := time.Now()
	// ...then silence: the server must close the connection.
	for {
		if _, _, err = ws.ReadMessage(); err != nil {
			break
		}
	}
	elapsed := time.Since(start)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4009 {
		t.Fatalf("want close 4009, got %v", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("dropped after %v, want ~1.5x interval", elapsed)
	}
}

func TestIdentifyValidation(t *testing.T) {
	t.Parallel()
	e := New(Options{HeartbeatInterval: time.Second})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	try := func(payload obj) int {
		ws, _, err := websocket.DefaultDialer.Dial(e.GatewayURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, _ = ws.ReadMessage() // HELLO
		_ = ws.WriteJSON(obj{"op": 2, "d": payload})
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return ce.Code
				}
				return -1
			}
		}
	}
	if c := try(obj{"token": "nope", "intents": 0}); c != 4004 {
		t.Fatalf("bad token: close %d", c)
	}
	if c := try(obj{"token": e.BotToken(), "intents": 0, "shard": []int{2, 2}}); c != 4010 {
		t.Fatalf("bad shard: close %d", c)
	}
}

func TestBadTokenRefused(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	other := New(Options{ApplicationID: 111111111111111111})
	client, err := disgo.New(other.BotToken(),
		bot.WithRestClientConfigOpts(rest.WithURL(e.APIURL())),
		bot.WithGatewayConfigOpts(gateway.WithCompression(gateway.CompressionNone)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())
	_, err = client.Rest.GetCurrentUser("")
	var rerr *rest.Error
	if !errors.As(err, &rerr) || rerr.Response.StatusCode != 401 || rerr.Message != "401: Unauthorized" {
		t.Fatalf("REST with bad token: %v", err)
	}
	// The gateway side (close 4004) is covered by TestIdentifyValidation with a
	// raw client: disgo's failed-open path trips its own heartbeat data race.
	if log := e.Log(); len(log) == 0 || log[len(log)-1].Status != 401 {
		t.Fatalf("log: %+v", log)
	}
}

func TestRateLimitFaultIsRetried(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	client, _ := newBot(t, e)
	quinn := d.Members["quiet_quinn"]
	if err := e.Fault(FaultSpec{Route: "PUT /guilds/{guild.id}/bans/{user.id}", Status: 429, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := client.Rest.AddBan(d.GuildID, quinn, 0); err != nil {
		t.Fatalf("ban after 429 should succeed: %v", err)
	}
	var statuses []int
	for _, l := range e.Log() {
		if l.Route == "/guilds/{g}/bans/{u}" && l.Method == "PUT" {
			statuses = append(statuses, l.Status)
		}
	}
	if len(statuses) != 2 || statuses[0] != 429 || statuses[1] != 204 {
		t.Fatalf("log statuses %v, want [429 204]", statuses)
	}
	// Persistent 503 until cleared.
	if err := e.Fault(FaultSpec{Route: "GET /guilds/{g}/members/{u}", Status: 503}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := client.Rest.GetMember(d.GuildID, d.OwnerID)
		var rerr *rest.Error
		if !errors.As(err, &rerr) || rerr.Response.StatusCode != 503 {
			t.Fatalf("want 503, got %v", err)
		}
	}
	e.ClearFaults()
	if _, err := client.Rest.GetMember(d.GuildID, d.OwnerID); err != nil {
		t.Fatal(err)
	}
}

func TestShardingRoutesGuilds(t *testing.T) {
	t.Parallel()
	e := New(Options{HeartbeatInterval: 500 * time.Millisecond, Shards: 2})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	// Two guilds created 1 ms apart land on different shards.
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	var guilds []ID
	for i := range 2 {
		ids, err := e.SeedGuild(GuildSpec{Name: "g" + string(rune('a'+i)), CreatedAt: base.Add(time.Duration(i) * time.Millisecond),
			Channels: []ChannelSpec{{Name: "general"}}, Members: []MemberSpec{{Username: "owner" + string(rune('a'+i))}}})
		if err != nil {
			t.Fatal(err)
		}
		guilds = append(guilds, ids.GuildID)
	}
	if shardFor(guilds[0], 2) == shardFor(guilds[1], 2) {
		t.Fatal("test guilds share a shard")
	}
	rec := newRecorder()
	client, err := disgo.New(e.BotToken(),
		bot.WithRestClientConfigOpts(rest.WithURL(e.APIURL())),
		bot.WithShardManagerConfigOpts(sharding.WithGatewayConfigOpts(
			gateway.WithIntents(testIntents), gateway.WithCompression(gateway.CompressionNone))),
		bot.WithEventListenerFunc(rec.add), bot.WithLogger(slog.New(syncHandler{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeBot(t, e, client) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.OpenShardManager(ctx); err != nil {
		t.Fatal(err)
	}
	for _, gid := range guilds {
		ev := waitFor[*events.GuildReady](t, rec, func(ev *events.GuildReady) bool { return ev.Guild.ID == gid })
		if ev.ShardID() != shardFor(gid, 2) {
			t.Fatalf("guild %v arrived on shard %d, want %d", gid, ev.ShardID(), shardFor(gid, 2))
		}
	}
	if n := len(e.Sessions()); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
}

func TestZstdRefusedClearly(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	// disgo's default compression is zstd-stream; the emulator refuses it with
	// a non-retryable close code so the misconfiguration is obvious.
	client, err := disgo.New(e.BotToken(), bot.WithRestClientConfigOpts(rest.WithURL(e.APIURL())),
		bot.WithDefaultGateway(), bot.WithLogger(slog.New(syncHandler{})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = client.OpenGateway(ctx)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4012 || !strings.Contains(ce.Text, "CompressionNone") {
		t.Fatalf("want close 4012 naming CompressionNone, got %v", err)
	}
}

func TestDMRoundTrip(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	client, _ := newBot(t, e)
	gary := d.Members["gopher_gary"]
	ch, err := client.Rest.CreateDMChannel(gary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Rest.CreateMessage(ch.ID(), discord.MessageCreate{Content: "psst"}); err != nil {
		t.Fatal(err)
	}
	if e.DMChannel(gary) != ch.ID() {
		t.Fatal("DM channel id mismatch")
	}
	if msgs := e.Messages(ch.ID()); len(msgs) != 1 || msgs[0].Content != "psst" {
		t.Fatalf("DM messages: %+v", msgs)
	}
}

func TestOAuth2PKCE(t *testing.T) {
	t.Parallel()
	e := NewTest(t)
	d := e.Demo()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 5 * time.Second}
	verifier := "a-very-long-random-verifier-string-0123456789abcdef"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	redirect := "http://dashboard.test/auth/callback"

	authorize := func(user ID) string {
		q := url.Values{"client_id": {e.ClientID()}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"identify guilds"}, "state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		if user != 0 {
			q.Set("emulator_user", user.String())
		}
		rs, err := hc.Get(e.BaseURL() + "/oauth2/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Body.Close()
		if user == 0 {
			body, _ := io.ReadAll(rs.Body)
			if rs.StatusCode != 200 || !strings.Contains(string(body), "emulator_user="+d.AdminID.String()) {
				t.Fatalf("picker page: %d %s", rs.StatusCode, body)
			}
			return ""
		}
		loc, err := url.Parse(rs.Header.Get("Location"))
		if rs.StatusCode != 302 || err != nil || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
			t.Fatalf("authorize redirect: %d %q", rs.StatusCode, rs.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	exchange := func(form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.APIURL()+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(e.ClientID(), e.ClientSecret())
		rs, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(rs.Body).Decode(&out)
		return rs.StatusCode, out
	}
	get := func(token, path string, v any) int {
		req, _ := http.NewRequest("GET", e.APIURL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rs, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Body.Close()
		_ = json.NewDecoder(rs.Body).Decode(v)
		return rs.StatusCode
	}

	authorize(0)
	code := authorize(d.AdminID)
	status, out := exchange(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"code_verifier": {"wrong-verifier-wrong-verifier-wrong-verifier"}})
	if status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", status, out)
	}
	status, out = exchange(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"code_verifier": {verifier}})
	if status != 200 || out["token_type"] != "Bearer" || out["scope"] != "identify guilds" {
		t.Fatalf("token exchange: %d %v", status, out)
	}
	access := out["access_token"].(string)
	if status, _ := exchange(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"code_verifier": {verifier}}); status != 400 {
		t.Fatalf("code reuse allowed: %d", status)
	}

	var me map[string]any
	if s := get(access, "/users/@me", &me); s != 200 || me["id"] != d.AdminID.String() || me["username"] != "grace" {
		t.Fatalf("@me: %d %v", s, me)
	}
	var guilds []struct {
		ID          string `json:"id"`
		Owner       bool   `json:"owner"`
		Permissions string `json:"permissions"`
	}
	if s := get(access, "/users/@me/guilds", &guilds); s != 200 || len(guilds) != 1 || guilds[0].ID != d.GuildID.String() {
		t.Fatalf("@me/guilds: %d %v", s, guilds)
	}
	if p := mustUint(t, guilds[0].Permissions); p&0x20 == 0 || guilds[0].Owner {
		t.Fatalf("admin should have Manage Server: %v", guilds[0])
	}

	// A regular member lacks Manage Server; refresh_token works.
	code = authorize(d.Members["gopher_gary"])
	_, out = exchange(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
	status, out = exchange(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}})
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, out)
	}
	guilds = nil
	get(out["access_token"].(string), "/users/@me/guilds", &guilds)
	if len(guilds) != 1 || mustUint(t, guilds[0].Permissions)&0x20 != 0 {
		t.Fatalf("member guild perms: %v", guilds)
	}
	var errBody map[string]any
	if s := get("bogus", "/users/@me", &errBody); s != 401 || errBody["message"] != "401: Unauthorized" {
		t.Fatalf("bogus bearer: %d %v", s, errBody)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	var p Perms
	if err := p.UnmarshalJSON([]byte(s)); err != nil {
		t.Fatalf("permissions %q: %v", s, err)
	}
	return uint64(p)
}

func omitTime(t time.Time) omit.Omit[*time.Time] { return omit.NewPtr(t) }
