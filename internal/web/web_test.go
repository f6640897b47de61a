package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestDashboard runs the admin's whole path on every engine: sign in through
// OAuth2, change the configuration, see it in the audit log, manage squads
// and keys, read members.
func TestDashboard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, rigOpts{})
		admin := r.signIn(r.demo.AdminID)

		t.Run("overview lists the managed guild", func(t *testing.T) {
			res := admin.get("/")
			if res.StatusCode != 200 || !strings.Contains(res.body, "Smarter Dev Demo") {
				t.Fatalf("overview: %d\n%s", res.StatusCode, res.body)
			}
		})

		t.Run("config change is audited", func(t *testing.T) {
			res := admin.get(r.path("/config"))
			if res.StatusCode != 200 {
				t.Fatalf("config page: %d", res.StatusCode)
			}
			form := formValues(res.body)
			form.Set("daily_amount", "25")
			res = admin.post(r.path("/config"), form)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d\n%s", res.StatusCode, res.body)
			}
			cfg, err := r.econ.Config(context.Background(), r.guild)
			if err != nil || cfg.DailyAmount != 25 {
				t.Fatalf("daily amount = %d, %v; want 25", cfg.DailyAmount, err)
			}
			res = admin.get(r.path("/config"))
			if !strings.Contains(res.body, "Configuration saved") {
				t.Error("no success flash after saving")
			}
			res = admin.get(r.path("/audit"))
			if !strings.Contains(res.body, "bytes.config.update") || !strings.Contains(res.body, "daily_amount") ||
				!strings.Contains(res.body, "<ins>25</ins>") || !strings.Contains(res.body, "<del>10</del>") {
				t.Fatalf("audit log lacks the change:\n%s", res.body)
			}
			if !strings.Contains(res.body, "Grace Admin") {
				t.Error("audit log does not name the admin")
			}
		})

		t.Run("validation keeps input and names the field", func(t *testing.T) {
			form := formValues(admin.get(r.path("/config")).body)
			form.Set("daily_amount", "-5")
			form.Set("max_transfer", "lots")
			res := admin.post(r.path("/config"), form)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !regexp.MustCompile(`id="max_transfer" name="max_transfer"[^>]*value="lots"`).MatchString(res.body) {
				t.Error("typed value not kept")
			}
			if !strings.Contains(res.body, `<p class="field-error" id="max_transfer-error">Enter a whole number.</p>`) {
				t.Errorf("no error next to max_transfer:\n%s", res.body)
			}
			// The rule daily_amount breaks is reported in the same answer as
			// the value that did not parse, not after it is fixed.
			if !strings.Contains(res.body, `id="daily_amount-error">Enter a whole number from 0 to 1,000,000,000.</p>`) ||
				!regexp.MustCompile(`name="daily_amount"[^>]*value="-5"`).MatchString(res.body) {
				t.Errorf("domain error not next to daily_amount beside the parse error:\n%s", res.body)
			}
			form.Set("max_transfer", "99999999999999999999")
			form.Set("starting_balance", "-1")
			res = admin.post(r.path("/config"), form)
			for _, want := range []string{`id="max_transfer-error">That number is too large to store.</p>`,
				`id="starting_balance-error">Enter a whole number from 0 to`, `id="daily_amount-error">Enter a whole number from 0 to`} {
				if !strings.Contains(res.body, want) {
					t.Errorf("missing %s:\n%s", want, res.body)
				}
			}
			if cfg, _ := r.econ.Config(context.Background(), r.guild); cfg.DailyAmount == -5 || cfg.StartingBalance == -1 {
				t.Errorf("a refused form changed the config: %+v", cfg)
			}
			form.Set("max_transfer", "1000")
			form.Set("starting_balance", "100")
			form.Set("daily_amount", "10")
			form.Set("tier_days_1", "8") // same as tier 0
			res = admin.post(r.path("/config"), form)
			if !strings.Contains(res.body, `id="tier_days_1-error"`) {
				t.Errorf("tier error not on its row:\n%s", res.body)
			}
			form.Set("tier_days_1", "16")

			// A reward role goes to everyone who reaches its threshold: a
			// staff role is neither offered nor accepted, and nothing is saved.
			if strings.Contains(res.body, ">Admin</option>") || strings.Contains(res.body, ">Moderator</option>") {
				t.Errorf("the reward roles offered include staff roles:\n%s", res.body)
			}
			before, _ := r.econ.Config(context.Background(), r.guild)
			form.Set("reward_role_0", strconv.FormatUint(uint64(r.demo.Roles["Admin"]), 10))
			form.Set("reward_threshold_0", "500")
			res = admin.post(r.path("/config"), form)
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="reward_role_0-error">“Admin” can moderate or run the server, and every member who reaches the threshold would get it.`) {
				t.Errorf("a staff reward role: %d\n%s", res.StatusCode, res.body)
			}
			if after, _ := r.econ.Config(context.Background(), r.guild); after.Version != before.Version {
				t.Errorf("a refused reward role was saved: %+v", after.RoleRewards)
			}
		})

		t.Run("squads: create, edit, delete", func(t *testing.T) {
			role := strconv.FormatUint(uint64(r.demo.Roles["Squad: Gophers"]), 10)
			res := admin.post(r.path("/squads"), url.Values{"name": {"Gophers"}, "role_id": {role}, "switch_cost": {"30"}, "active": {"on"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("create: %d\n%s", res.StatusCode, res.body)
			}
			list, _ := r.sq.List(context.Background(), r.guild)
			if len(list) != 1 || list[0].Name != "Gophers" || list[0].SwitchCost != 30 {
				t.Fatalf("squads = %+v", list)
			}
			id := strconv.FormatInt(list[0].ID, 10)
			res = admin.get(r.path("/squads"))
			if !strings.Contains(res.body, "Squad: Gophers") {
				t.Error("role name from Discord not shown")
			}
			res = admin.post(r.path("/squads"), url.Values{"name": {""}, "role_id": {role}, "max_members": {"-2"}})
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="name-error"`) || !strings.Contains(res.body, `id="max_members-error"`) {
				t.Errorf("empty name and negative size, both named in one answer: %d\n%s", res.StatusCode, res.body)
			}
			// The role goes to whoever joins: a staff role, or a bot's own,
			// is neither offered nor accepted.
			if strings.Contains(res.body, ">Admin</option>") || strings.Contains(res.body, ">Moderator</option>") || strings.Contains(res.body, ">Smarter Bot</option>") ||
				!strings.Contains(res.body, ">Squad: Rustaceans</option>") {
				t.Errorf("role choices:\n%s", res.body)
			}
			for name, want := range map[string]string{"Admin": "can moderate or run the server", "Smarter Bot": "belongs to a bot", "Squad: Gophers": "“Squad: Gophers” already belongs to another squad"} {
				id := strconv.FormatUint(uint64(r.demo.Roles[name]), 10)
				res = admin.post(r.path("/squads"), url.Values{"name": {"Crew " + name}, "role_id": {id}})
				if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, want) {
					t.Errorf("squad with role %s: %d, want %q next to the role\n%s", name, res.StatusCode, want, res.body)
				}
			}
			if list, _ := r.sq.List(context.Background(), r.guild); len(list) != 1 {
				t.Fatalf("refused squads were created: %+v", list)
			}
			// A squad that already holds such a role (made before the check,
			// or through a path without Discord) is flagged in the list.
			mods, err := r.sq.Create(context.Background(), r.guild, 0, squads.NewSpec("Mods", int64(r.demo.Roles[emulator.RoleModerator])))
			if err != nil {
				t.Fatal(err)
			}
			if res := admin.get(r.path("/squads")); !strings.Contains(res.body, `<p class="field-error role-problem">“Moderator” can moderate or run the server`) ||
				strings.Count(res.body, `class="field-error role-problem"`) != 1 {
				t.Errorf("the staff role of a squad is not flagged, or a sound one is:\n%s", res.body)
			}
			if err := r.sq.Delete(context.Background(), r.guild, 0, mods.ID); err != nil {
				t.Fatal(err)
			}
			res = admin.post(r.path("/squads/"+id), url.Values{"name": {"Go Team"}, "role_id": {role}, "switch_cost": {"40"}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("update: %d\n%s", res.StatusCode, res.body)
			}
			if res := admin.get(r.path("/squads/" + id + "/delete")); !strings.Contains(res.body, "Delete Go Team?") {
				t.Errorf("no confirmation page:\n%s", res.body)
			}
			if res := admin.post(r.path("/squads/"+id+"/delete"), nil); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("delete: %d", res.StatusCode)
			}
			if list, _ := r.sq.List(context.Background(), r.guild); len(list) != 0 {
				t.Fatalf("still there: %+v", list)
			}
		})

		t.Run("members and profile", func(t *testing.T) {
			gary := r.demo.Members["gopher_gary"]
			r.openAccount(gary)
			r.openAccount(r.demo.Members["rusty_rita"])
			if _, err := r.econ.Transfer(context.Background(), r.guild, economy.TransferRequest{
				Giver: economy.Member{ID: int64(gary), Name: "gary"}, Receiver: economy.Member{ID: int64(r.demo.Members["rusty_rita"]), Name: "rita"},
				Amount: 7, Reason: "thanks"}); err != nil {
				t.Fatal(err)
			}
			res := admin.get(r.path("/members"))
			if res.StatusCode != 200 || !strings.Contains(res.body, "Gary") || !strings.Contains(res.body, "@gopher_gary") {
				t.Fatalf("members: %d\n%s", res.StatusCode, res.body)
			}
			res = admin.get(r.path("/members/" + strconv.FormatUint(uint64(gary), 10)))
			if res.StatusCode != 200 || !strings.Contains(res.body, `id="balance">93<`) || !strings.Contains(res.body, "thanks") {
				t.Fatalf("profile: %d\n%s", res.StatusCode, res.body)
			}
			if !regexp.MustCompile(`<dt>Streak</dt><dd>(1 day|[02-9]\d* days)[ <]`).MatchString(res.body) {
				t.Error("streak not written as days")
			}
			// The initial stands in should the CDN not serve the avatar.
			if !regexp.MustCompile(`<img class="avatar" src="https://cdn.discordapp.com/avatars/[^"]+" alt="" data-initial="G"`).MatchString(res.body) {
				t.Error("avatar without its initial")
			}
			if res := admin.get(r.path("/members/1234")); res.StatusCode != 404 {
				t.Errorf("unknown member: %d", res.StatusCode)
			}
			if res := admin.get(r.path("")); res.StatusCode != 200 || !strings.Contains(res.body, "<svg") {
				t.Errorf("activity: %d", res.StatusCode)
			}
		})

		t.Run("API keys: create shows once, rotate, revoke", func(t *testing.T) {
			res := admin.post(r.path("/apikeys"), url.Values{"name": {"ci"}, "scope": {"read"}})
			m := regexp.MustCompile(`id="new-token" class="token" readonly value="(sdk_[^"]+)"`).FindStringSubmatch(res.body)
			if res.StatusCode != 200 || m == nil {
				t.Fatalf("create: %d\n%s", res.StatusCode, res.body)
			}
			list := admin.get(r.path("/apikeys"))
			if strings.Contains(list.body, m[1]) {
				t.Fatal("the key is shown again")
			}
			prefix := regexp.MustCompile(`/apikeys/([^/"]+)/rotate`).FindStringSubmatch(list.body)
			if prefix == nil {
				t.Fatalf("no rotate button:\n%s", list.body)
			}
			if res := admin.post(r.path("/apikeys/"+prefix[1]+"/rotate"), nil); !strings.Contains(res.body, `id="new-token"`) {
				t.Fatalf("rotate: %d", res.StatusCode)
			}
			list = admin.get(r.path("/apikeys"))
			active := regexp.MustCompile(`/apikeys/([^/"]+)/revoke`).FindStringSubmatch(list.body)
			if active == nil || active[1] == prefix[1] {
				t.Fatalf("the rotated key is not the one left to revoke:\n%s", list.body)
			}
			// The table's buttons lead to a page that asks first; opening it
			// changes nothing.
			confirm := admin.get(r.path("/apikeys/" + active[1] + "/revoke"))
			if confirm.StatusCode != 200 || !strings.Contains(confirm.body, "Revoke key <code>"+active[1]+"</code>?") ||
				!strings.Contains(confirm.body, `action="/guilds/`+strconv.FormatInt(r.guild, 10)+`/apikeys/`+active[1]+`/revoke"`) {
				t.Fatalf("revoke confirmation: %d\n%s", confirm.StatusCode, confirm.body)
			}
			if res := admin.get(r.path("/apikeys")); !regexp.MustCompile(`/apikeys/` + active[1] + `/revoke`).MatchString(res.body) {
				t.Fatal("opening the confirmation revoked the key")
			}
			if res := admin.post(r.path("/apikeys/"+active[1]+"/revoke"), nil); res.StatusCode != http.StatusSeeOther {
				t.Errorf("revoke: %d", res.StatusCode)
			}
			if res := admin.get(r.path("/apikeys")); strings.Contains(res.body, "/revoke") || !strings.Contains(res.body, "revoked") {
				t.Error("a key is still active")
			}
			// Every key, revoked or not, links to the changes made with it.
			if res := admin.get(r.path("/apikeys")); !strings.Contains(res.body, `/audit?api_key=`+prefix[1]+`">Changes`) ||
				!strings.Contains(res.body, `/audit?api_key=`+active[1]+`">Changes`) {
				t.Errorf("no link to each key's changes:\n%s", res.body)
			}
			if res := admin.get(r.path("/audit")); !strings.Contains(res.body, "apikeys.rotate") || !strings.Contains(res.body, "<ins>revoked</ins>") {
				t.Errorf("rotation or revocation not audited as it happened:\n%s", res.body)
			}
			if res := admin.get(r.path("/apikeys/nonsense/revoke")); res.StatusCode != http.StatusNotFound {
				t.Errorf("confirmation for an unknown key: %d", res.StatusCode)
			}
			if res := admin.get(r.path("/apikeys/" + active[1] + "/rotate")); res.StatusCode != http.StatusConflict {
				t.Errorf("rotating a revoked key offered: %d", res.StatusCode)
			}

			// A key for every guild works here too: listed, never revocable by
			// the guild's admins.
			keys := apikeys.NewService(r.db, nil)
			global, _, err := keys.Create(context.Background(), 0, apikeys.Spec{Name: "operator-sync", Scope: apikeys.Write})
			if err != nil {
				t.Fatal(err)
			}
			list = admin.get(r.path("/apikeys"))
			section := list.body[strings.Index(list.body, `id="global-keys"`)+1:]
			if !strings.Contains(list.body, `id="global-keys"`) || !strings.Contains(section, "<code>"+global.Prefix+"</code></td><td>operator-sync</td><td>write</td>") {
				t.Fatalf("the key for every guild is not listed:\n%s", list.body)
			}
			if strings.Contains(list.body, global.Prefix+"/revoke") || strings.Contains(list.body, global.Prefix+"/rotate") {
				t.Error("a key for every guild is offered for revocation")
			}
			if res := admin.post(r.path("/apikeys/"+global.Prefix+"/revoke"), nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("revoking a key for every guild: %d", res.StatusCode)
			}
			if ks, _ := keys.List(context.Background()); !slices.ContainsFunc(ks, func(k apikeys.Key) bool { return k.Prefix == global.Prefix && !k.Revoked() }) {
				t.Error("the key for every guild was revoked from a guild's page")
			}

			// A lifetime, chosen from a list; a tampered one is refused next
			// to the field and creates nothing.
			res = admin.post(r.path("/apikeys"), url.Values{"name": {"deploy"}, "scope": {"write"}, "expires_in": {"30"}})
			until := "until " + time.Now().UTC().Add(30*24*time.Hour).Format("2006-01-02")
			if res.StatusCode != 200 || !strings.Contains(res.body, "Key deploy (write, "+until) {
				t.Fatalf("create with a lifetime: %d\n%s", res.StatusCode, res.body)
			}
			before, _ := keys.List(context.Background())
			for bad, msg := range map[string]string{"100000": "between a day and five years", "soon": "Enter a whole number.", "-7": "between a day and five years", "106751991167": "between a day and five years"} {
				res := admin.post(r.path("/apikeys"), url.Values{"name": {"x"}, "scope": {"read"}, "expires_in": {bad}})
				if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="expires_in-error">`) || !strings.Contains(res.body, msg) {
					t.Errorf("expires_in=%s: %d", bad, res.StatusCode)
				}
			}
			if after, _ := keys.List(context.Background()); len(after) != len(before) {
				t.Error("a refused lifetime created a key")
			}
			past := apikeys.NewService(r.db, func() time.Time { return time.Now().Add(-2 * time.Hour) })
			old, _, err := past.Create(context.Background(), 0, apikeys.Spec{Name: "old-job", Scope: apikeys.Read, GuildID: r.guild, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			list = admin.get(r.path("/apikeys"))
			row := list.body[strings.Index(list.body, "<code>"+old.Prefix+"</code>"):]
			if row = row[:strings.Index(row, "</tr>")]; !strings.Contains(row, "expired ") {
				t.Errorf("an expired key is not shown expired: %s", row)
			}

			// A key in its last week is flagged, with what to do, as the
			// APIKeyExpiring alert would; one a month away is not. So is a
			// key for every guild in its last week, in its own table.
			soon, _, err := keys.Create(context.Background(), 0, apikeys.Spec{Name: "nightly-export", Scope: apikeys.Read, GuildID: r.guild, TTL: 3 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			soonGlobal, _, err := keys.Create(context.Background(), 0, apikeys.Spec{Name: "stats", Scope: apikeys.Read, TTL: 2 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			keyRow := func(body, prefix string) string {
				row := body[strings.Index(body, "<code>"+prefix+"</code>"):]
				return row[:strings.Index(row, "</tr>")]
			}
			list = admin.get(r.path("/apikeys"))
			if !strings.Contains(list.body, `<p class="warning" role="status"><strong>1 key stops working within a week.</strong>`) {
				t.Errorf("no warning for a key in its last week:\n%s", list.body)
			}
			deploy := strings.Index(list.body, "<td>deploy</td>")
			for prefix, want := range map[string]bool{soon.Prefix: true, soonGlobal.Prefix: true, global.Prefix: false, old.Prefix: false} {
				if got := strings.Contains(keyRow(list.body, prefix), "expires soon"); got != want {
					t.Errorf("key %s: flagged %v, want %v", prefix, got, want)
				}
			}
			if row := list.body[deploy:]; strings.Contains(row[:strings.Index(row, "</tr>")], "expires soon") {
				t.Error("a key a month from its end is flagged")
			}
			if _, err := keys.Revoke(context.Background(), 0, soon.Prefix); err != nil {
				t.Fatal(err)
			}
			if list = admin.get(r.path("/apikeys")); strings.Contains(list.body, `class="warning"`) || strings.Contains(keyRow(list.body, soon.Prefix), "expires soon") {
				t.Error("a revoked key is still flagged as expiring")
			}
		})

		t.Run("sign-out ends the session", func(t *testing.T) {
			b := r.signIn(r.demo.AdminID)
			if res := b.post("/signout", nil); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-out: %d", res.StatusCode)
			}
			if res := b.get(r.path("/config")); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
				t.Fatalf("after sign-out: %d", res.StatusCode)
			}
		})
	})
}

// formValues reads every input, select and textarea of a page's first
// POST form, as a browser would submit it.
func formValues(body string) url.Values {
	v := url.Values{}
	i := strings.Index(body, `<form method="post" action="/guilds/`)
	if i >= 0 {
		body = body[i:]
		if j := strings.Index(body, "</form>"); j >= 0 {
			body = body[:j]
		}
	}
	for _, m := range regexp.MustCompile(`<input[^>]*>`).FindAllString(body, -1) {
		name := attr(m, "name")
		if name == "" || (strings.Contains(m, `type="checkbox"`) && !strings.Contains(m, "checked")) {
			continue
		}
		if strings.Contains(m, `type="checkbox"`) {
			v.Add(name, attr(m, "value")) // a picker sends each checked box
		} else {
			v.Set(name, attr(m, "value"))
		}
	}
	for _, m := range regexp.MustCompile(`(?s)<select[^>]*name="([^"]+)".*?</select>`).FindAllStringSubmatch(body, -1) {
		sel := regexp.MustCompile(`<option value="([^"]*)"[^>]*selected`).FindStringSubmatch(m[0])
		if sel != nil {
			v.Set(m[1], sel[1])
		} else {
			v.Set(m[1], "")
		}
	}
	return v
}

func attr(tag, name string) string {
	m := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return strings.NewReplacer("&#34;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'").Replace(m[1])
}

func TestSignInRefusesStateMismatch(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	b := r.browser()
	res := b.get("/auth/login")
	loc, _ := url.Parse(res.Header.Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		t.Fatalf("authorize URL lacks PKCE or state: %s", loc)
	}
	// The challenge is the S256 of the verifier the browser's cookie keeps.
	var oauth *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "sd_oauth" {
			oauth = c
		}
	}
	if oauth == nil || !oauth.HttpOnly || oauth.SameSite != http.SameSiteLaxMode {
		t.Fatalf("oauth cookie: %+v", oauth)
	}
	state, verifier, _ := strings.Cut(oauth.Value, ".")
	if state != q.Get("state") || discordapi.Challenge(verifier) != q.Get("code_challenge") {
		t.Fatal("challenge is not S256(verifier) or state differs")
	}
	res = b.get(res.Header.Get("Location") + "&emulator_user=" + strconv.FormatUint(uint64(r.demo.AdminID), 10))
	cb, _ := url.Parse(res.Header.Get("Location"))
	cq := cb.Query()
	cq.Set("state", "forged")
	cb.RawQuery = cq.Encode()
	res = b.get(cb.String())
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin?error=state" {
		t.Fatalf("forged state: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, c := range res.Cookies() {
		if c.Name == "sd_session" && c.Value != "" {
			t.Fatal("a session was started despite the forged state")
		}
	}
	if res := b.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed in anyway: %d", res.StatusCode)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	b := r.browser()
	res := b.get("/auth/login")
	res = b.get(res.Header.Get("Location") + "&emulator_user=" + strconv.FormatUint(uint64(r.demo.AdminID), 10))
	res = b.get(res.Header.Get("Location"))
	var sc *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "sd_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || len(sc.Value) != 43 {
		t.Fatalf("session cookie: %+v", sc)
	}
	// Only the hash is stored.
	var n int
	if err := r.db.SQL().QueryRow("SELECT COUNT(*) FROM web_sessions WHERE id_hash = $1", sc.Value).Scan(&n); err != nil || n != 0 {
		t.Fatalf("raw session id stored: %d %v", n, err)
	}
}

func TestDevSignIn(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	for _, c := range []struct {
		name   string
		o      rigOpts
		status int
	}{
		{"refused without dev mode", rigOpts{listenAddr: "127.0.0.1:8080"}, http.StatusForbidden},
		{"refused off loopback", rigOpts{devMode: true, listenAddr: "0.0.0.0:8080"}, http.StatusForbidden},
		{"allowed in dev mode on loopback", rigOpts{devMode: true, listenAddr: "127.0.0.1:8080"}, http.StatusSeeOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, db, c.o)
			b := r.browser()
			page := b.get("/signin")
			if hasForm := strings.Contains(page.body, `action="/auth/dev"`); hasForm != (c.status == http.StatusSeeOther) {
				t.Errorf("dev form shown = %v", hasForm)
			}
			res := b.post("/auth/dev", url.Values{"username": {"dev"}})
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.status == http.StatusSeeOther {
				if res := b.get(r.path("/config")); res.StatusCode != 200 {
					t.Fatalf("dev user on a guild page: %d", res.StatusCode)
				}
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	form := formValues(admin.get(r.path("/config")).body)
	form.Set("daily_amount", "99")
	for name, mutate := range map[string]func(url.Values, *http.Request){
		"missing token": func(v url.Values, _ *http.Request) { v.Del("csrf_token") },
		"wrong token":   func(v url.Values, _ *http.Request) { v.Set("csrf_token", strings.Repeat("A", 43)) },
		"other origin":  func(_ url.Values, req *http.Request) { req.Header.Set("Origin", "https://evil.example") },
	} {
		t.Run(name, func(t *testing.T) {
			v := url.Values{}
			for k, x := range form {
				v[k] = x
			}
			req, _ := http.NewRequest(http.MethodPost, r.srv.URL+r.path("/config"), nil)
			mutate(v, req)
			req.Body = http.NoBody
			req2, _ := http.NewRequest(http.MethodPost, r.srv.URL+r.path("/config"), strings.NewReader(v.Encode()))
			req2.Header = req.Header
			req2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res := admin.do(req2)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "<html") {
				t.Fatalf("status %d, want an HTML 403", res.StatusCode)
			}
		})
	}
	// The htmx header carries the token too.
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+r.path("/config"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", admin.csrf)
	if res := admin.do(req); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("with header: %d", res.StatusCode)
	}
	if cfg, _ := r.econ.Config(context.Background(), r.guild); cfg.DailyAmount != 99 {
		t.Fatalf("daily amount %d", cfg.DailyAmount)
	}
}

func TestGuildAuthorization(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{operators: []int64{int64(999)}})
	member := r.signIn(r.demo.Members["gopher_gary"])
	for _, p := range []string{"", "/config", "/squads", "/members", "/audit", "/apikeys"} {
		if res := member.get(r.path(p)); res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "You do not manage this guild") {
			t.Errorf("member on %s: %d", p, res.StatusCode)
		}
	}
	if res := member.post(r.path("/squads"), url.Values{"name": {"x"}, "role_id": {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("member creating a squad: %d", res.StatusCode)
	}
	if res := member.get("/"); strings.Contains(res.body, "Smarter Dev Demo</a>") {
		t.Error("overview lists a guild the member does not manage")
	}
	admin := r.signIn(r.demo.AdminID)
	if res := admin.get("/guilds/42/config"); res.StatusCode != http.StatusForbidden {
		t.Errorf("admin on another guild: %d", res.StatusCode)
	}
	owner := r.signIn(r.demo.OwnerID)
	if res := owner.get(r.path("/config")); res.StatusCode != 200 {
		t.Errorf("owner: %d", res.StatusCode)
	}
}

func TestOperatorManagesEveryGuild(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	quinn := int64(0)
	r := newRig(t, db, rigOpts{})
	quinn = int64(r.demo.Members["quiet_quinn"])
	r = newRig(t, db, rigOpts{operators: []int64{quinn}})
	op := r.signIn(r.demo.Members["quiet_quinn"])
	if res := op.get(r.path("/config")); res.StatusCode != 200 {
		t.Fatalf("operator on the demo guild: %d", res.StatusCode)
	}
	if res := op.get("/guilds/42/squads"); res.StatusCode != 200 {
		t.Fatalf("operator on another guild: %d", res.StatusCode)
	}
	if _, err := squads.NewService(db, r.econ).Create(context.Background(), 42, quinn, squads.NewSpec("Elsewhere", 5)); err != nil {
		t.Fatal(err)
	}
	if res := op.get("/"); !strings.Contains(res.body, `href="/guilds/42"`) {
		t.Errorf("operator overview lacks a guild with data:\n%s", res.body)
	}
}

var inlineScript = regexp.MustCompile(`(?i)<script\b[^>]*>`)

func TestSecurityHeadersAndNoInlineScript(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	gary := r.demo.Members["gopher_gary"]
	r.openAccount(gary)
	sq, err := r.sq.Create(context.Background(), r.guild, 1, squads.NewSpec("Gophers", int64(r.demo.Roles["Squad: Gophers"])))
	if err != nil {
		t.Fatal(err)
	}
	anon := r.browser()
	pages := map[string]*browser{
		"/signin": anon, "/nope": admin, "/static/app.css": anon, "/": admin,
		r.path(""): admin, r.path("/config"): admin, r.path("/squads"): admin,
		r.path("/squads/" + strconv.FormatInt(sq.ID, 10)): admin, r.path("/squads/" + strconv.FormatInt(sq.ID, 10) + "/delete"): admin,
		r.path("/members"): admin, r.path("/members/" + strconv.FormatUint(uint64(gary), 10)): admin,
		r.path("/audit"): admin, r.path("/apikeys"): admin, "/guilds/42": r.signIn(r.demo.Members["rusty_rita"]),
	}
	for p, b := range pages {
		res := b.get(p)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "img-src 'self' https://cdn.discordapp.com data:", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows unsafe-inline", p)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", p, h)
		}
		if strings.HasSuffix(p, ".css") {
			continue
		}
		for _, tag := range inlineScript.FindAllString(res.body, -1) {
			if !strings.Contains(tag, `src="/static/`) {
				t.Errorf("%s: inline script %s", p, tag)
			}
		}
		if regexp.MustCompile(`(?i)\sstyle=|\son[a-z]+=`).MatchString(res.body) {
			t.Errorf("%s: inline style or event handler", p)
		}
		if res.StatusCode >= 400 && !strings.Contains(res.body, "Request id") {
			t.Errorf("%s: error page without request id", p)
		}
	}
}

// Browsers fetch /favicon.ico on every site; a 404 there fills the logs.
func TestFavicon(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	res, err := http.Get(r.srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Errorf("/favicon.ico: %d %s %.40s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
}
