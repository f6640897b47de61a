//go:build !race

// The sandbox drives disgo v0.19.6, whose gateway races with itself on
// close (docs/emulator.md); under -race this end-to-end test would report
// disgo's race, not ours. `make test` runs it in its pass without -race.

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/discord/sandbox"
)

// startSandbox starts what `make run` starts: every role, SQLite, no
// Discord token (so the in-process emulator with the demo guild).
func startSandbox(t *testing.T) (*App, *sandbox.Sandbox) {
	t.Helper()
	env := sqliteEnv(t)
	env[config.EnvDiscordSandbox] = "1"
	cfg, err := config.Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, cfg, Options{Role: RoleServe})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// disgo v0.19.6 races when a shard closes before its first
		// heartbeat (docs/emulator.md): the bot waits for one itself.
		cancel()
		if err := a.Wait(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	sb := a.services.discord.sandbox
	if sb == nil {
		t.Fatal("no sandbox without a Discord token")
	}
	return a, sb
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// The `make run` path end to end: the bot connects to the sandbox, a first
// message earns the daily reward, /squads join by menu and button grants
// the squad role through the outbox, the relay and the role worker.
func TestSandboxEndToEnd(t *testing.T) {
	a, sb := startSandbox(t)
	e, d := sb.Emulator, sb.Demo
	base := "http://" + a.Addr()

	waitFor(t, "two connected shards", 20*time.Second, func() bool {
		n := 0
		for _, s := range e.Sessions() {
			if s.Connected {
				n++
			}
		}
		return n == 2 && len(e.Commands()) >= 2
	})
	code, body := get(t, base+"/readyz")
	var rep readiness
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != http.StatusOK || rep.Components["gateway"].Status != "up" {
		t.Fatalf("readyz: %d %s", code, body)
	}

	// A member says something through the control API: the daily reward.
	gary := d.Members["gopher_gary"]
	code, out := postJSON(t, sb.Base+"/_emulator/guilds/"+d.GuildID.String()+"/channels/"+d.General.String()+"/messages",
		map[string]any{"user_id": gary.String(), "content": "good morning"})
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("say: %d %s", code, out)
	}
	ctx := context.Background()
	waitFor(t, "the daily reward", 10*time.Second, func() bool {
		acc, err := a.services.Economy.Balance(ctx, int64(d.GuildID), int64(gary))
		return err == nil && acc.Balance == 110 && acc.Streak == 1
	})
	waitFor(t, "the reward reaction", 10*time.Second, func() bool {
		for _, m := range e.Messages(d.General) {
			if len(m.Reactions) > 0 {
				return true
			}
		}
		return false
	})

	// /squads join: pick Rustaceans in the menu, confirm; the worker adds the role.
	list, err := a.services.Squads.List(ctx, int64(d.GuildID))
	if err != nil {
		t.Fatal(err)
	}
	var rust int64
	for _, sq := range list {
		if sq.Name == "Rustaceans" {
			rust = sq.ID
		}
	}
	quinn := d.Members["quiet_quinn"]
	await := func(id emulator.ID) *emulator.Interaction {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		it, err := e.AwaitResponse(actx, id)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	withPrefix := func(it *emulator.Interaction, p string) string {
		it, _ = e.Interaction(it.ID)
		for _, id := range it.Original.CustomIDs() {
			if strings.HasPrefix(id, p) {
				return id
			}
		}
		t.Fatalf("no %s component in %v", p, it.Original.CustomIDs())
		return ""
	}
	id, err := e.RunCommand(d.GuildID, d.BotCommands, quinn, "squads join")
	if err != nil {
		t.Fatal(err)
	}
	it := await(id)
	sel, err := e.Select(d.BotCommands, it.Original.ID, quinn, withPrefix(it, "squads:pick:"), strconv.FormatInt(rust, 10))
	if err != nil {
		t.Fatal(err)
	}
	await(sel)
	cl, err := e.Click(d.BotCommands, it.Original.ID, quinn, withPrefix(it, "squads:join:"))
	if err != nil {
		t.Fatal(err)
	}
	if cit := await(cl); !strings.Contains(string(cit.ResponseData), "Welcome to Rustaceans") {
		t.Fatalf("join answer: %s", cit.ResponseData)
	}
	waitFor(t, "the Rustaceans role on quinn", 15*time.Second, func() bool {
		m, ok := e.Member(d.GuildID, quinn)
		return ok && m.HasRole(d.Roles[emulator.RoleRustaceans])
	})

	// The bot's heartbeat reaches the web side: /readyz and /status.json.
	var st struct {
		Bot struct {
			Alive     bool
			Processes []struct {
				ShardsConnected int `json:"shards_connected"`
				Version         string
				LastEvent       *time.Time `json:"last_event"`
			}
		}
		Queues map[string]struct{ Dead int64 }
		Outbox *struct{ Pending int64 }
	}
	waitFor(t, "a heartbeat with both shards connected", 2*botstatus.Interval+5*time.Second, func() bool {
		_, body := get(t, base+"/status.json")
		st.Bot.Processes = nil
		return json.Unmarshal([]byte(body), &st) == nil && st.Bot.Alive && len(st.Bot.Processes) == 1 &&
			st.Bot.Processes[0].ShardsConnected == 2 && st.Bot.Processes[0].LastEvent != nil
	})
	if _, ok := st.Queues["roles"]; !ok || st.Outbox == nil {
		t.Errorf("status.json lacks queues or the outbox: %+v", st)
	}
	_, body = get(t, base+"/readyz")
	if err := json.Unmarshal([]byte(body), &rep); err != nil || rep.Components["bot"].Status != "up" {
		t.Errorf("readyz bot component: %s", body)
	}

	// The gateway and Discord REST metrics are fed. The shard gauge is
	// refreshed by a poller every second, so the scrape is retried briefly.
	wants := []string{
		`smarterdev_gateway_shard_connected{shard="0"} 1`,
		`smarterdev_gateway_events_total{type="MESSAGE_CREATE"} `,
		`smarterdev_gateway_heartbeat_latency_seconds{shard="1"} `,
		`smarterdev_discord_rest_requests_total{code="204",method="PUT",route="/guilds/{id}/members/{id}/roles/{id}"} `,
	}
	var metricsBody string
	deadline := time.Now().Add(10 * time.Second)
	for {
		metricsBody = scrape(t, a.Addr())
		missing := ""
		for _, want := range wants {
			if !strings.Contains(metricsBody, want) {
				missing = want
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/metrics lacks %s", missing)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(metricsBody, quinn.String()) {
		t.Error("/metrics carries a user id")
	}
}
