package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func usernameRule(name, pattern string) url.Values {
	return url.Values{"name": {name}, "kind": {"username"}, "pattern": {pattern}, "action": {"ban"}, "enabled": {"on"}}
}

// TestAutomodPages: rules with validation next to the field, the try-it box
// as a form and with htmx, editing, deleting with a confirmation, settings.
func TestAutomodPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, rigOpts{})
		admin := r.signIn(r.demo.AdminID)
		ctx := context.Background()

		if res := admin.get(r.path("/automod")); res.StatusCode != 200 || !strings.Contains(res.body, "No rules yet") {
			t.Fatalf("automod page: %d\n%s", res.StatusCode, res.body)
		}

		// A bad regex is refused next to the pattern, keeping what was typed.
		res := admin.post(r.path("/automod/rules"), usernameRule("Nitro scam", "free(nitro"))
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bad regex: %d", res.StatusCode)
		}
		if !strings.Contains(res.body, `<p class="field-error" id="pattern-error">Not a valid RE2 regular expression: missing closing ) in `) {
			t.Errorf("no pattern error next to the field:\n%s", res.body)
		}
		if !regexp.MustCompile(`id="pattern" name="pattern" value="free\(nitro"`).MatchString(res.body) ||
			!regexp.MustCompile(`id="name" name="name" value="Nitro scam"`).MatchString(res.body) {
			t.Error("typed values not kept")
		}

		res = admin.post(r.path("/automod/rules"), usernameRule("Nitro scam", `free.?nitro`))
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", res.StatusCode, res.body)
		}
		rules, _ := r.mod.Rules(ctx, r.guild)
		if len(rules) != 1 || rules[0].Pattern != "free.?nitro" || rules[0].Action != automod.ActionBan || !rules[0].Enabled {
			t.Fatalf("rules = %+v", rules)
		}
		id := strconv.FormatInt(rules[0].ID, 10)
		res = admin.get(r.path("/automod"))
		if !strings.Contains(res.body, "Nitro scam") || !strings.Contains(res.body, "added") {
			t.Error("new rule or flash not shown")
		}

		// Try it, as a plain form post: the whole page with the result.
		res = admin.post(r.path("/automod/try"), url.Values{"username": {"FREE-NITRO giveaway"}, "no_avatar": {"on"}})
		if res.StatusCode != 200 || !strings.Contains(res.body, "<html") || !strings.Contains(res.body, "triggers: ban") {
			t.Fatalf("try: %d\n%s", res.StatusCode, res.body)
		}
		// And with htmx: only the results.
		req, _ := http.NewRequest(http.MethodPost, r.srv.URL+r.path("/automod/try"), strings.NewReader(url.Values{"username": {"gary"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", admin.csrf)
		res = admin.do(req)
		if res.StatusCode != 200 || strings.Contains(res.body, "<html") || !strings.Contains(res.body, "Nitro scam") ||
			strings.Contains(res.body, "triggers:") || !strings.Contains(res.body, "does not match") {
			t.Fatalf("htmx try: %d\n%s", res.StatusCode, res.body)
		}
		res = admin.post(r.path("/automod/try"), url.Values{})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Type a username") {
			t.Errorf("empty try: %d", res.StatusCode)
		}

		// Edit: a timeout needs a duration.
		form := formValues(admin.get(r.path("/automod/rules/" + id)).body)
		form.Set("action", "timeout")
		res = admin.post(r.path("/automod/rules/"+id), form)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="timeout_seconds-error">A timeout needs a duration`) {
			t.Fatalf("timeout without duration: %d\n%s", res.StatusCode, res.body)
		}
		form.Set("timeout_seconds", "600")
		if res := admin.post(r.path("/automod/rules/"+id), form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("update: %d\n%s", res.StatusCode, res.body)
		}
		if rule, _ := r.mod.Rule(ctx, r.guild, rules[0].ID); rule.Action != automod.ActionTimeout || rule.TimeoutSeconds != 600 {
			t.Fatalf("rule after update: %+v", rule)
		}

		// An attachment rule's extensions are checked too.
		res = admin.post(r.path("/automod/rules"), url.Values{"name": {"Executables"}, "kind": {"attachment"}, "extensions": {"exe, a/b"}, "action": {"delete"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="extensions-error"`) {
			t.Errorf("bad extension: %d", res.StatusCode)
		}

		// Delete with a confirmation.
		if res := admin.get(r.path("/automod/rules/" + id + "/delete")); !strings.Contains(res.body, "Delete Nitro scam?") {
			t.Errorf("no confirmation page:\n%s", res.body)
		}
		if res := admin.post(r.path("/automod/rules/"+id+"/delete"), nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete: %d", res.StatusCode)
		}
		if rules, _ := r.mod.Rules(ctx, r.guild); len(rules) != 0 {
			t.Fatalf("rules after delete: %+v", rules)
		}

		// Settings.
		res = admin.post(r.path("/automod/settings"), url.Values{"escalate_after": {"1"}, "escalate_window_hours": {"24"}, "escalate_action": {"ban"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="settings-escalate_after-error">Must be between 2 and 50`) ||
			!regexp.MustCompile(`name="escalate_after"[^>]*value="1"`).MatchString(res.body) {
			t.Fatalf("bad escalation: %d\n%s", res.StatusCode, res.body)
		}
		res = admin.post(r.path("/automod/settings"), url.Values{"mod_log_channel": {strconv.FormatUint(uint64(r.demo.ModLog), 10)},
			"exempt_roles": {"11, 12"}, "moderators_exempt": {"on"}, "escalate_after": {"3"}, "escalate_window_hours": {"24"},
			"escalate_action": {"timeout"}, "escalate_timeout_seconds": {"3600"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("settings: %d\n%s", res.StatusCode, res.body)
		}
		st, _ := r.mod.Settings(ctx, r.guild)
		if st.ModLogChannel != int64(r.demo.ModLog) || len(st.ExemptRoles) != 2 || !st.ModeratorsExempt || st.EscalateAfter != 3 ||
			st.EscalateAction != automod.ActionTimeout || st.EscalateTimeoutSeconds != 3600 {
			t.Fatalf("settings = %+v", st)
		}
		// Ids Discord does not list stay chosen, so a save does not drop them.
		res = admin.get(r.path("/automod"))
		for _, id := range []string{"11", "12"} {
			if !regexp.MustCompile(`name="exempt_roles" value="` + id + `" checked><label [^>]*>Not found in this server \(` + id + `\)`).MatchString(res.body) {
				t.Errorf("saved exempt role %s not shown checked:\n%s", id, res.body)
			}
		}
	})
}

// TestAutomodPickers: roles and channels are chosen by name from what
// Discord lists; only channels the bot can post in are offered as the
// mod-log; ticked boxes are saved and shown ticked; a new rule starts as a
// warning.
func TestAutomodPickers(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	ctx := context.Background()
	idOf := func(id emulator.ID) string { return strconv.FormatUint(uint64(id), 10) }
	helper, contributor := idOf(r.demo.Roles[emulator.RoleHelper]), idOf(r.demo.Roles[emulator.RoleContributor])
	lounge, modLog := idOf(r.demo.Channels["Lounge"]), idOf(r.demo.ModLog)

	res := admin.get(r.path("/automod"))
	settings := res.body[strings.Index(res.body, `id="settings"`):]
	modLogSelect := regexp.MustCompile(`(?s)<select id="settings-mod_log_channel".*?</select>`).FindString(settings)
	if !strings.Contains(modLogSelect, `<option value="`+modLog+`" >#mod-log</option>`) || strings.Contains(modLogSelect, "Lounge") {
		t.Errorf("mod-log choices: want #mod-log and no voice channel:\n%s", modLogSelect)
	}
	for _, want := range []string{`value="` + helper + `" ><label for="settings-exempt_roles-`, `>@` + emulator.RoleHelper + `</label>`,
		`value="` + lounge + `" ><label for="settings-exempt_channels-`, `>#Lounge (voice)</label>`} {
		if !strings.Contains(settings, want) {
			t.Errorf("settings form lacks %s", want)
		}
	}
	if !regexp.MustCompile(`<option value="warn" selected>`).MatchString(res.body) {
		t.Error("a new rule does not start as a warning")
	}

	// A voice channel, or one the server does not have, is refused as the
	// mod-log, next to the field, and nothing is saved.
	for ch, want := range map[string]string{lounge: "#Lounge is not a text channel", "42": "This server has no such channel."} {
		res := admin.post(r.path("/automod/settings"), url.Values{"mod_log_channel": {ch}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="settings-mod_log_channel-error">`+want) {
			t.Errorf("mod-log %s: %d, want %q next to the field", ch, res.StatusCode, want)
		}
		if ch == lounge && !strings.Contains(res.body, `<option value="`+lounge+`" selected>#Lounge (voice) (not offered here)</option>`) {
			t.Errorf("the refused choice is not kept by name:\n%s", res.body)
		}
	}
	// Values no checkbox sends (a tampered form) are refused as well.
	for field, value := range map[string]string{"exempt_roles": "abc", "exempt_channels": "-3", "mod_log_channel": "x"} {
		res := admin.post(r.path("/automod/settings"), url.Values{field: {value}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="settings-`+field+`-error">`) {
			t.Errorf("%s=%s: %d, want an error next to the field", field, value, res.StatusCode)
		}
	}
	if st, _ := r.mod.Settings(ctx, r.guild); st.ModLogChannel != 0 || st.Version != 0 {
		t.Fatalf("a refused mod-log was saved: %+v", st)
	}
	form := url.Values{"mod_log_channel": {modLog}, "exempt_roles": {helper, contributor}, "exempt_channels": {lounge}}
	if res := admin.post(r.path("/automod/settings"), form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", res.StatusCode, res.body)
	}
	st, _ := r.mod.Settings(ctx, r.guild)
	if st.ModLogChannel != int64(r.demo.ModLog) || fmt.Sprint(st.ExemptRoles) != fmt.Sprint([]int64{int64(r.demo.Roles[emulator.RoleHelper]), int64(r.demo.Roles[emulator.RoleContributor])}) ||
		fmt.Sprint(st.ExemptChannels) != fmt.Sprint([]int64{int64(r.demo.Channels["Lounge"])}) {
		t.Fatalf("settings = %+v", st)
	}
	res = admin.get(r.path("/automod"))
	for _, id := range []string{helper, contributor, lounge} {
		if !strings.Contains(res.body, `value="`+id+`" checked>`) {
			t.Errorf("%s not shown ticked", id)
		}
	}
	if !strings.Contains(res.body, `<option value="`+modLog+`" selected>#mod-log</option>`) {
		t.Error("mod-log channel not shown chosen")
	}

	// A rule's own exemptions are ticked the same way, and unticking all of
	// them clears them.
	rule := url.Values{"name": {"Flood"}, "kind": {"message_rate"}, "count": {"5"}, "window_seconds": {"10"}, "action": {"warn"},
		"enabled": {"on"}, "exempt_channels": {idOf(r.demo.BotCommands)}}
	if res := admin.post(r.path("/automod/rules"), rule); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", res.StatusCode, res.body)
	}
	rules, _ := r.mod.Rules(ctx, r.guild)
	if len(rules) != 1 || fmt.Sprint(rules[0].ExemptChannels) != fmt.Sprint([]int64{int64(r.demo.BotCommands)}) {
		t.Fatalf("rules = %+v", rules)
	}
	if res := admin.get(r.path("/automod")); !strings.Contains(res.body, "<td>Too many messages</td>") ||
		!strings.Contains(res.body, `<span class="muted">not in #bot-commands</span>`) {
		t.Errorf("the rules table does not say the kind or the exemptions in words:\n%s", res.body)
	}
	id := strconv.FormatInt(rules[0].ID, 10)
	edit := formValues(admin.get(r.path("/automod/rules/" + id)).body)
	if got := edit["exempt_channels"]; fmt.Sprint(got) != fmt.Sprint([]string{idOf(r.demo.BotCommands)}) {
		t.Fatalf("edit form exempt channels = %v", got)
	}
	edit.Del("exempt_channels")
	if res := admin.post(r.path("/automod/rules/"+id), edit); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", res.StatusCode, res.body)
	}
	if rule, _ := r.mod.Rule(ctx, r.guild, rules[0].ID); len(rule.ExemptChannels) != 0 {
		t.Fatalf("exemptions not cleared: %+v", rule)
	}
}

// TestCasePages: filters, cursor pages, names, resolving, the member profile.
func TestCasePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, rigOpts{})
		admin := r.signIn(r.demo.AdminID)
		ctx := context.Background()
		gary, rita := int64(r.demo.Members["gopher_gary"]), int64(r.demo.Members["rusty_rita"])
		for i := range 28 {
			in := moderation.Input{TargetID: rita, TargetName: "rita", Action: automod.ActionWarn, Reason: fmt.Sprintf("spam %d", i),
				Rule: &automod.Rule{Name: "Spam", Kind: automod.KindMessageRate}}
			if _, err := r.mod.Open(ctx, r.guild, in); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.mod.Open(ctx, r.guild, moderation.Input{TargetID: gary, ModeratorID: int64(r.demo.ModeratorID), Action: automod.ActionBan, Reason: "raid"}); err != nil {
			t.Fatal(err)
		}
		gone := int64(4242)
		if _, err := r.mod.Open(ctx, r.guild, moderation.Input{TargetID: gone, TargetName: "left_already", Action: automod.ActionTimeout, Duration: 10 * time.Minute, Reason: "flood"}); err != nil {
			t.Fatal(err)
		}

		res := admin.get(r.path("/cases"))
		if res.StatusCode != 200 || strings.Count(res.body, `href="/guilds/`+strconv.FormatInt(r.guild, 10)+`/cases/`) != 25 {
			t.Fatalf("first page: %d, %d case links", res.StatusCode, strings.Count(res.body, "/cases/"))
		}
		next := regexp.MustCompile(`href="(/guilds/\d+/cases\?before=\d+)" rel="next"`).FindStringSubmatch(res.body)
		if next == nil {
			t.Fatalf("no next page link:\n%s", res.body[strings.Index(res.body, "pager"):])
		}
		res = admin.get(strings.ReplaceAll(next[1], "&amp;", "&"))
		if !strings.Contains(res.body, "#1</a>") || strings.Contains(res.body, `rel="next"`) {
			t.Errorf("second page lacks case #1 or has a next link")
		}
		if !strings.Contains(admin.get(r.path("/cases")).body, "left_already") {
			t.Error("a member Discord does not know is not named by the stored name")
		}

		res = admin.get(r.path("/cases?action=ban"))
		if !strings.Contains(res.body, "#29</a>") || strings.Contains(res.body, "#28</a>") || !strings.Contains(res.body, "Gary") {
			t.Errorf("action filter:\n%s", res.body)
		}
		res = admin.get(r.path("/cases?member=" + strconv.FormatInt(gary, 10)))
		if !strings.Contains(res.body, "#29</a>") || strings.Contains(res.body, "#1</a>") {
			t.Error("member filter")
		}
		if res := admin.get(r.path("/cases?rule=Spam&state=open")); !strings.Contains(res.body, "#28</a>") || strings.Contains(res.body, "#29</a>") {
			t.Error("rule filter")
		}
		if res := admin.get(r.path("/cases?member=abc")); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, `id="member-error"`) {
			t.Errorf("bad member id: %d", res.StatusCode)
		}
		if res := admin.get(r.path("/cases?rule=Nope")); !strings.Contains(res.body, "No cases match these filters") {
			t.Error("empty filter result")
		}

		// The case page names the member and the moderator.
		res = admin.get(r.path("/cases/29"))
		if res.StatusCode != 200 || !strings.Contains(res.body, "Gary") || !strings.Contains(res.body, "raid") || !strings.Contains(res.body, "Reverse and unban") {
			t.Fatalf("case page: %d\n%s", res.StatusCode, res.body)
		}
		if res := admin.get(r.path("/cases/999")); res.StatusCode != 404 {
			t.Errorf("missing case: %d", res.StatusCode)
		}
		res = admin.post(r.path("/cases/29/resolve"), url.Values{"note": {strings.Repeat("x", 501)}, "outcome": {"reverse"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="note-error"`) {
			t.Errorf("long note: %d", res.StatusCode)
		}
		res = admin.post(r.path("/cases/29/resolve"), url.Values{"note": {"appeal accepted"}, "outcome": {"reverse"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("reverse: %d\n%s", res.StatusCode, res.body)
		}
		c, _ := r.mod.Case(ctx, r.guild, 29)
		if c.State != moderation.StateReversed || c.Note != "appeal accepted" || c.ResolvedBy != int64(r.demo.AdminID) {
			t.Fatalf("case after reverse: %+v", c)
		}
		res = admin.get(r.path("/cases/29"))
		if !strings.Contains(res.body, "reversed") || !strings.Contains(res.body, "Grace Admin") || strings.Contains(res.body, `name="outcome"`) {
			t.Error("reversed case page")
		}
		res = admin.post(r.path("/cases/29/resolve"), url.Values{"note": {"again"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "already closed") {
			t.Errorf("closing twice: %d", res.StatusCode)
		}

		// The member profile lists the member's cases, even without a bytes account.
		res = admin.get(r.path("/members/" + strconv.FormatInt(gary, 10)))
		if res.StatusCode != 200 || !strings.Contains(res.body, `id="member-cases"`) || !strings.Contains(res.body, "/cases/29") {
			t.Fatalf("profile: %d\n%s", res.StatusCode, res.body)
		}
		res = admin.get(r.path("/members/" + strconv.FormatInt(rita, 10)))
		if !strings.Contains(res.body, "All cases about this member") {
			t.Error("no link to the member's other cases")
		}
	})
}

// TestModerationAuthorization: another guild's rules and cases are refused to
// a member without Manage Server; every new form needs the CSRF token.
func TestModerationAuthorization(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	ctx := context.Background()
	rule, err := r.mod.CreateRule(ctx, r.guild, 1, automod.Rule{Name: "x", Kind: automod.KindUsername, Pattern: "x", Action: automod.ActionBan, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.mod.Open(ctx, r.guild, moderation.Input{TargetID: 77, Action: automod.ActionWarn}); err != nil {
		t.Fatal(err)
	}
	ruleID := strconv.FormatInt(rule.ID, 10)
	member := r.signIn(r.demo.Members["gopher_gary"])
	for _, p := range []string{"/automod", "/automod/rules/" + ruleID, "/automod/rules/" + ruleID + "/delete", "/cases", "/cases/1"} {
		if res := member.get(r.path(p)); res.StatusCode != http.StatusForbidden {
			t.Errorf("member GET %s: %d", p, res.StatusCode)
		}
	}
	posts := map[string]url.Values{
		"/automod/rules":                       usernameRule("y", "y"),
		"/automod/rules/" + ruleID:             usernameRule("y", "y"),
		"/automod/rules/" + ruleID + "/delete": {},
		"/automod/settings":                    {"escalate_after": {"0"}},
		"/automod/try":                         {"username": {"x"}},
		"/cases/1/resolve":                     {"note": {"n"}},
	}
	for p, v := range posts {
		if res := member.post(r.path(p), v); res.StatusCode != http.StatusForbidden {
			t.Errorf("member POST %s: %d", p, res.StatusCode)
		}
	}
	admin := r.signIn(r.demo.AdminID)
	if res := admin.get("/guilds/42/automod"); res.StatusCode != http.StatusForbidden {
		t.Errorf("admin on another guild's rules: %d", res.StatusCode)
	}
	if res := admin.get("/guilds/42/cases/1"); res.StatusCode != http.StatusForbidden {
		t.Errorf("admin on another guild's case: %d", res.StatusCode)
	}
	for p, v := range posts {
		v = cloneValues(v)
		v.Set("csrf_token", strings.Repeat("A", 43))
		if res := admin.post(r.path(p), v); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a wrong CSRF token: %d", p, res.StatusCode)
		}
	}
	if rules, _ := r.mod.Rules(ctx, r.guild); len(rules) != 1 || rules[0].Name != "x" {
		t.Errorf("rules changed without a valid token: %+v", rules)
	}
	if c, _ := r.mod.Case(ctx, r.guild, 1); c.State != moderation.StateOpen {
		t.Errorf("case closed without a valid token")
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, x := range v {
		out[k] = append([]string(nil), x...)
	}
	return out
}

// TestAutomodPickersWithoutDiscord: when Discord does not list the roles and
// channels, the settings take typed ids, so an outage locks nothing.
func TestAutomodPickersWithoutDiscord(t *testing.T) {
	down := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasSuffix(req.URL.Path, "/roles") || strings.HasSuffix(req.URL.Path, "/channels") {
				http.Error(w, "unavailable", http.StatusBadGateway)
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{discord: down})
	admin := r.signIn(r.demo.AdminID)
	res := admin.get(r.path("/automod"))
	for _, want := range []string{`<label for="settings-exempt_roles">Exempt roles (ids)</label>`, `<input id="settings-mod_log_channel" name="mod_log_channel" inputmode="numeric"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("no typed-id fallback %s:\n%s", want, res.body)
		}
	}
	if res := admin.post(r.path("/automod/settings"), url.Values{"exempt_roles": {"11, 12"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", res.StatusCode, res.body)
	}
	if st, _ := r.mod.Settings(context.Background(), r.guild); fmt.Sprint(st.ExemptRoles) != "[11 12]" {
		t.Fatalf("settings = %+v", st)
	}
	if res := admin.get(r.path("/automod")); !strings.Contains(res.body, `name="exempt_roles" value="11, 12"`) {
		t.Error("typed ids not shown back")
	}
	// Boxes ticked before Discord went down come as one value each; a refused
	// save shows every one of them back in the typed field, none dropped.
	res = admin.post(r.path("/automod/settings"), url.Values{"exempt_roles": {"21", "22", "23"}, "escalate_after": {"1"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `name="exempt_roles" value="21, 22, 23"`) {
		t.Errorf("refused save: %d, ticked ids not all kept:\n%s", res.StatusCode, res.body)
	}
}

// TestAuditLogReadable: entries say what happened in words, name roles,
// channels and members, leave out bookkeeping, and filter by part and by
// who made the change.
func TestAuditLogReadable(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	ctx := context.Background()
	idOf := func(id emulator.ID) string { return strconv.FormatUint(uint64(id), 10) }
	gary := r.demo.Members["gopher_gary"]
	r.openAccount(gary)

	if res := admin.post(r.path("/automod/settings"), url.Values{"mod_log_channel": {idOf(r.demo.ModLog)},
		"exempt_roles": {idOf(r.demo.Roles[emulator.RoleHelper])}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", res.StatusCode, res.body)
	}
	if _, err := r.econ.Adjust(ctx, r.guild, economy.Member{ID: int64(gary), Name: "gary"}, int64(r.demo.AdminID), 1500, "event prize"); err != nil {
		t.Fatal(err)
	}

	res := admin.get(r.path("/audit"))
	for _, want := range []string{
		`<strong class="action">Moderation settings changed</strong>`,
		`<th scope="row" title="exempt_roles">Exempt roles</th>`, `<ins>@` + emulator.RoleHelper + `</ins>`,
		`<th scope="row" title="mod_log_channel">Mod-log channel</th>`, `<ins>#mod-log</ins>`,
		`<strong class="action">Bytes granted</strong>: <a href="/guilds/` + idOf(r.demo.GuildID) + `/members/` + idOf(gary) + `">Gary</a>`,
		`<ins>1,600</ins>`, `Reason: event prize`, `<code class="muted" title="The action as the API names it">bytes.grant</code>`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if strings.Contains(res.body, `title="version"`) {
		t.Error("the version bump is listed as a change")
	}

	for query, want := range map[string][]string{
		"area=moderation": {"Moderation settings changed"},
		"area=bytes":      {"Bytes granted"},
		"actor=" + idOf(r.demo.AdminID) + "&area=bytes": {"Only changes by <strong>Grace Admin</strong>", "Bytes granted"},
	} {
		res := admin.get(r.path("/audit?" + query))
		for _, w := range want {
			if !strings.Contains(res.body, w) {
				t.Errorf("audit?%s lacks %q", query, w)
			}
		}
		if n := strings.Count(res.body, `<li class="card"`); n != 1 {
			t.Errorf("audit?%s: %d entries, want 1", query, n)
		}
	}
	if res := admin.get(r.path("/audit?actor=999")); !strings.Contains(res.body, "No change matches this filter.") {
		t.Error("an empty filter result is not said")
	}

	// A change made through the REST API names the key that made it, never
	// "the system", and the key's name filters the log.
	key, _, err := apikeys.NewService(r.db, time.Now).Create(audit.ViaCommandLine(ctx), 0, apikeys.Spec{Name: "ci-bot", Scope: apikeys.Admin, GuildID: r.guild})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.mod.CreateRule(audit.ViaAPIKey(ctx, key.Prefix), r.guild, 0, automod.Rule{Name: "Raid names", Kind: automod.KindUsername,
		Enabled: true, Pattern: "^raider", Action: automod.ActionWarn}); err != nil {
		t.Fatal(err)
	}
	byKey := `by the API key <a href="/guilds/` + idOf(r.demo.GuildID) + `/audit?api_key=` + key.Prefix + `" title="Only changes made with this key">“ci-bot”</a>`
	if res := admin.get(r.path("/audit")); !strings.Contains(res.body, byKey) || strings.Count(res.body, "by the system") != 0 ||
		!strings.Contains(res.body, "by an operator on the command line") {
		t.Errorf("the API key's change does not name the key, or the key's creation is not from the command line:\n%s", res.body)
	}
	res = admin.get(r.path("/audit?api_key=" + key.Prefix))
	if !strings.Contains(res.body, "Only changes made through the REST API with the key <strong>“ci-bot”</strong>") ||
		strings.Count(res.body, `<li class="card"`) != 1 || !strings.Contains(res.body, "Auto-moderation rule added") {
		t.Errorf("audit?api_key: wrong entries:\n%s", res.body)
	}
	if res := admin.get(r.path("/audit?area=bytes&api_key=" + key.Prefix)); strings.Count(res.body, `<li class="card"`) != 0 {
		t.Error("the key filter does not combine with the area")
	}
	for _, bad := range []string{"area=economy", "actor=me", "actor=-4", "api_key=ci-bot", "api_key=" + strings.ToUpper(key.Prefix)} {
		if res := admin.get(r.path("/audit?" + bad)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("audit?%s: %d, want 400", bad, res.StatusCode)
		}
		if res := admin.get(r.path("/audit.csv?" + bad)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("audit.csv?%s: %d, want 400", bad, res.StatusCode)
		}
	}

	// The download: every entry, or the filtered ones, as CSV; typed text
	// that a spreadsheet would run as a formula is defused.
	if _, err := r.econ.Adjust(ctx, r.guild, economy.Member{ID: int64(gary), Name: "gary"}, int64(r.demo.AdminID), 5, "=HYPERLINK(\"http://evil\")"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(admin.get(r.path("/audit?area=bytes")).body, `href="/guilds/`+idOf(r.demo.GuildID)+`/audit.csv?area=bytes" download hx-boost="false">Download as CSV`) {
		t.Error("no download link that keeps the filter", regexp.MustCompile(`.*Download.*`).FindString(admin.get(r.path("/audit?area=bytes")).body))
	}
	for query, want := range map[string][]string{"": {"apikeys.create", "automod.rule.create", "bytes.grant", "bytes.grant", "moderation.settings.update"}, "area=bytes": {"bytes.grant", "bytes.grant"}} {
		res := admin.get(r.path("/audit.csv?" + query))
		rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
		if res.StatusCode != 200 || err != nil || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(res.Header.Get("Content-Disposition"), `attachment; filename="audit-`) {
			t.Fatalf("audit.csv?%s: %d %v %v\n%s", query, res.StatusCode, err, res.Header, res.body)
		}
		var got []string
		for _, row := range rows[1:] {
			got = append(got, row[2])
		}
		slices.Sort(got)
		if strings.Join(rows[0], ",") != "id,time,action,what,target,actor_id,via,api_key,reason,before,after" || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("audit.csv?%s: header %v, actions %v, want %v", query, rows[0], got, want)
		}
		if query == "area=bytes" && (rows[1][8] != `'=HYPERLINK("http://evil")` || rows[1][5] != idOf(r.demo.AdminID) || !strings.HasPrefix(rows[1][10], "{")) {
			t.Errorf("newest row: %q", rows[1])
		}
	}
	if res := admin.get(r.path("/audit.csv?api_key=" + key.Prefix)); strings.Count(res.body, "\n") != 2 || !strings.Contains(res.body, ",api,"+key.Prefix+",") {
		t.Errorf("audit.csv by key:\n%s", res.body)
	}
}

// The log's links keep its filter: "Older entries" leads to the next page of
// the same filter, and "Newest" back to the first.
func TestAuditPagesKeepTheFilter(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	gary := r.demo.Members["gopher_gary"]
	r.openAccount(gary)
	for i := range 35 {
		if _, err := r.econ.Adjust(context.Background(), r.guild, economy.Member{ID: int64(gary), Name: "gary"}, int64(r.demo.AdminID), 1, fmt.Sprintf("prize %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	link := func(body, rel string) string {
		m := regexp.MustCompile(`<a href="([^"]+)"` + rel).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	first := admin.get(r.path("/audit?area=bytes&actor=" + strconv.FormatUint(uint64(r.demo.AdminID), 10)))
	next := link(first.body, ` rel="next">Older entries`)
	if strings.Count(first.body, `<li class="card"`) != 30 || !strings.Contains(next, "area=bytes") || !strings.Contains(next, "before=") {
		t.Fatalf("first page: next link %q", next)
	}
	second := admin.get(next)
	if n := strings.Count(second.body, `<li class="card"`); second.StatusCode != 200 || n != 5 || !strings.Contains(second.body, "Reason: prize 0") {
		t.Fatalf("second page: %d, %d entries", second.StatusCode, n)
	}
	if newest := link(second.body, `>Newest`); newest != r.path("/audit?actor="+strconv.FormatUint(uint64(r.demo.AdminID), 10)+"&area=bytes") {
		t.Errorf("newest link %q", newest)
	}
}
