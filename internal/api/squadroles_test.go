package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// fakeDiscord stands in for Discord's view of the guild: role 666 carries
// Administrator; channel 777 is a voice channel.
type fakeDiscord struct{}

func (fakeDiscord) ModLogProblem(_ context.Context, _, channel int64) string {
	if channel == 777 {
		return "#Lounge is not a text channel"
	}
	return ""
}

func (fakeDiscord) SquadRoleProblem(_ context.Context, _, role int64) string {
	if role == 666 {
		return "“Admin” can moderate or run the server"
	}
	return ""
}

func (f fakeDiscord) RewardRoleProblem(ctx context.Context, guild, role int64) string {
	return f.SquadRoleProblem(ctx, guild, role)
}

// A squad's role goes to whoever joins: the API refuses a staff role when
// it is chosen, at creation or by a patch, and names the field.
func TestSquadRoleMustNotBeStaff(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), ratelimit.Limit{}, func(d *api.Deps) { d.Discord = fakeDiscord{} })
	g := "/api/v1/guilds/1"
	bad := r.do("POST", g+"/squads", r.admin, map[string]any{"name": "Admins", "role_id": "666"})
	r.fieldError(bad, "body.role_id")
	ok := r.expect(r.do("POST", g+"/squads", r.admin, map[string]any{"name": "Gophers", "role_id": "400"}), http.StatusCreated)
	id := ok.JSON["id"].(string)
	r.fieldError(r.do("PATCH", g+"/squads/"+id, r.admin, map[string]any{"role_id": "666"}), "body.role_id")
	if l := r.expect(r.do("GET", g+"/squads", r.read, nil), http.StatusOK); len(list(l.JSON["items"])) != 1 ||
		obj(list(l.JSON["items"])[0])["role_id"] != "400" {
		t.Fatalf("refused writes changed the squads: %s", l.Raw)
	}
	r.expect(r.do("PATCH", g+"/squads/"+id, r.admin, map[string]any{"description": "still fine"}), http.StatusOK)
}

// A reward role goes to every member who reaches its threshold: the API
// refuses a staff role on its field, and saves nothing.
func TestRewardRoleMustNotBeStaff(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), ratelimit.Limit{}, func(d *api.Deps) { d.Discord = fakeDiscord{} })
	path := "/api/v1/guilds/1/bytes/config"
	cfg := r.expect(r.do("GET", path, r.read, nil), http.StatusOK).JSON
	delete(cfg, "version") // read-only
	cfg["role_rewards"] = []any{map[string]any{"role_id": "400", "threshold": 100}, map[string]any{"role_id": "666", "threshold": 500}}
	bad := r.do("PUT", path, r.admin, cfg)
	r.fieldError(bad, "body.role_rewards[1].role_id")
	if !strings.Contains(string(bad.Raw), "can moderate or run the server") {
		t.Fatalf("the refusal does not say why: %s", bad.Raw)
	}
	if got := r.expect(r.do("GET", path, r.read, nil), http.StatusOK); len(list(got.JSON["role_rewards"])) != 0 {
		t.Fatalf("a refused configuration was saved: %s", got.Raw)
	}
	cfg["role_rewards"] = []any{map[string]any{"role_id": "400", "threshold": 100}}
	r.expect(r.do("PUT", path, r.admin, cfg), http.StatusOK)
}

// The mod-log channel must be one the bot can post in: a voice channel is
// refused on the field, and nothing is saved.
func TestModLogMustBeText(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), ratelimit.Limit{}, func(d *api.Deps) { d.Discord = fakeDiscord{} })
	path := "/api/v1/guilds/1/automod/settings"
	bad := r.do("PUT", path, r.admin, map[string]any{"mod_log_channel": "777", "moderators_exempt": true})
	r.fieldError(bad, "body.mod_log_channel")
	if !strings.Contains(string(bad.Raw), "Lounge is not a text channel") {
		t.Fatalf("the refusal does not say why: %s", bad.Raw)
	}
	if got := r.expect(r.do("GET", path, r.read, nil), http.StatusOK); got.JSON["version"] != 0.0 {
		t.Fatalf("a refused save was stored: %s", got.Raw)
	}
	ok := r.expect(r.do("PUT", path, r.admin, map[string]any{"mod_log_channel": "778", "moderators_exempt": true}), http.StatusOK)
	if ok.JSON["mod_log_channel"] != "778" {
		t.Fatalf("saved: %s", ok.Raw)
	}
}
