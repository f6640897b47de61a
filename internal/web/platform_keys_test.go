package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestPlatformKeys: operators manage the keys that work in every guild on
// their own page: create (shown once), rotate and revoke after a
// confirmation, each change in the page's history with who made it, from
// the dashboard or the command line, and in no guild's audit log. Guild
// managers who are not operators are refused it, and a guild's own key is
// not managed there.
func TestPlatformKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		probe := newRig(t, db, rigOpts{})
		r := newRig(t, db, rigOpts{operators: []int64{int64(probe.demo.AdminID)}})
		op := r.signIn(r.demo.AdminID)
		keys := apikeys.NewService(db, nil)
		working := func(prefix string) bool {
			ks, _ := keys.List(ctx)
			return slices.ContainsFunc(ks, func(k apikeys.Key) bool { return k.Prefix == prefix && !k.Revoked() })
		}

		page := op.get("/apikeys")
		if page.StatusCode != 200 || !strings.Contains(page.body, "API keys for every guild") || !strings.Contains(page.body, "No key for every guild yet") ||
			!strings.Contains(page.body, `href="/apikeys" title="API keys that work in every guild">Keys for every guild</a>`) {
			t.Fatalf("empty page: %d\n%s", page.StatusCode, page.body)
		}

		// Bad input: said next to the field, nothing created.
		res := op.post("/apikeys", url.Values{"name": {" "}, "scope": {"root"}, "expires_in": {"soon"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="name-error"`) || !strings.Contains(res.body, `id="scope-error"`) ||
			!strings.Contains(res.body, `id="expires_in-error"`) {
			t.Fatalf("bad form: %d\n%s", res.StatusCode, res.body)
		}
		if ks, _ := keys.List(ctx); len(ks) != 0 {
			t.Fatalf("a refused form created %d keys", len(ks))
		}
		// Without the CSRF token: refused.
		if res := op.post("/apikeys", url.Values{"name": {"x"}, "scope": {"read"}, "csrf_token": {"forged"}}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("no CSRF token: %d", res.StatusCode)
		}

		res = op.post("/apikeys", url.Values{"name": {"metrics-sync"}, "scope": {"read"}, "expires_in": {"90"}})
		token := regexp.MustCompile(`id="new-token" class="token" readonly value="(sdk_[^"]+)"`).FindStringSubmatch(res.body)
		if res.StatusCode != 200 || token == nil || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create: %d\n%s", res.StatusCode, res.body)
		}
		k, err := keys.Authenticate(ctx, token[1])
		if err != nil || k.GuildID != 0 || k.Name != "metrics-sync" || k.ExpiresAt.IsZero() || !k.AllowsGuild(r.guild) || !k.AllowsGuild(42) {
			t.Fatalf("the created key: %+v %v", k, err)
		}
		page = op.get("/apikeys")
		for _, want := range []string{"<code>" + k.Prefix + "</code></td><td>metrics-sync</td><td>read</td>", `href="/apikeys/` + k.Prefix + `/rotate"`,
			`id="key-history"`, "API key created", "by Grace Admin"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("after create, the page lacks %q", want)
			}
		}
		if strings.Contains(page.body, "audit?api_key=") {
			t.Error("the operators' page links to a guild's audit log")
		}
		if t.Failed() {
			t.Fatal(page.body)
		}

		// Rotate and revoke ask first, then act.
		confirm := op.get("/apikeys/" + k.Prefix + "/rotate")
		if confirm.StatusCode != 200 || !strings.Contains(confirm.body, `action="/apikeys/`+k.Prefix+`/rotate"`) || !strings.Contains(confirm.body, "in every guild") {
			t.Fatalf("rotate confirmation: %d\n%s", confirm.StatusCode, confirm.body)
		}
		res = op.post("/apikeys/"+k.Prefix+"/rotate", nil)
		rotated := regexp.MustCompile(`id="new-token" class="token" readonly value="(sdk_[^"]+)"`).FindStringSubmatch(res.body)
		if rotated == nil || working(k.Prefix) {
			t.Fatalf("rotate: %d, old key still working: %v\n%s", res.StatusCode, working(k.Prefix), res.body)
		}
		nk, err := keys.Authenticate(ctx, rotated[1])
		if err != nil || nk.GuildID != 0 {
			t.Fatalf("rotated key: %+v %v", nk, err)
		}
		if res := op.post("/apikeys/"+nk.Prefix+"/revoke", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/apikeys" || working(nk.Prefix) {
			t.Fatalf("revoke: %d %s", res.StatusCode, res.Header.Get("Location"))
		}

		// A guild's own key is not managed here, and stays working.
		own, _, err := keys.Create(ctx, 0, apikeys.Spec{Name: "guild-bot", Scope: apikeys.Write, GuildID: r.guild})
		if err != nil {
			t.Fatal(err)
		}
		if res := op.post("/apikeys/"+own.Prefix+"/revoke", nil); res.StatusCode != http.StatusNotFound || !working(own.Prefix) {
			t.Fatalf("a guild's key revoked from the operators' page: %d", res.StatusCode)
		}
		if res := op.get("/apikeys/nonsense/rotate"); res.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown prefix: %d", res.StatusCode)
		}

		// A key made on the command line says so.
		cli, _, err := keys.Create(audit.ViaCommandLine(ctx), 0, apikeys.Spec{Name: "backup-job", Scope: apikeys.Read})
		if err != nil {
			t.Fatal(err)
		}
		page = op.get("/apikeys")
		history := page.body[strings.Index(page.body, `id="key-history"`):]
		for _, want := range []string{"API key revoked", "API key rotated", "API key created", "by an operator on the command line", cli.Prefix} {
			if !strings.Contains(history, want) {
				t.Errorf("the history lacks %q", want)
			}
		}
		if i, j := strings.Index(history, cli.Prefix), strings.Index(history, "API key revoked"); i > j {
			t.Error("the history is not newest first")
		}
		if strings.Contains(history, own.Prefix) {
			t.Error("a guild's key is in the operators' history")
		}
		if t.Failed() {
			t.Fatal(history)
		}
		// No guild's audit log shows them.
		if res := op.get(r.path("/audit")); strings.Contains(res.body, k.Prefix) || strings.Contains(res.body, cli.Prefix) {
			t.Error("a key for every guild is in a guild's audit log")
		}
		// The guild page lists the working key for every guild, pointing the operator here.
		if res := op.get(r.path("/apikeys")); !strings.Contains(res.body, `id="global-keys"`) || !strings.Contains(res.body, cli.Prefix) ||
			!strings.Contains(res.body, `(<a href="/apikeys">open it</a>)`) {
			t.Errorf("the guild's page does not list the key for every guild:\n%s", res.body)
		}

		// A guild manager who is not an operator: no link, refused.
		manager := probe.signIn(probe.demo.AdminID)
		if res := manager.get(probe.path("/apikeys")); res.StatusCode != 200 || strings.Contains(res.body, `href="/apikeys"`) {
			t.Errorf("a guild manager's page: %d, links to the operators' page: %v", res.StatusCode, strings.Contains(res.body, `href="/apikeys"`))
		}
		for _, req := range []func() resp{
			func() resp { return manager.get("/apikeys") },
			func() resp { return manager.post("/apikeys", url.Values{"name": {"sneaky"}, "scope": {"admin"}}) },
			func() resp { return manager.post("/apikeys/"+cli.Prefix+"/revoke", nil) },
		} {
			if res := req(); res.StatusCode != http.StatusForbidden {
				t.Errorf("a guild manager on the operators' page: %d", res.StatusCode)
			}
		}
		if !working(cli.Prefix) {
			t.Error("a guild manager revoked a key for every guild")
		}
		if ks, _ := keys.List(ctx); slices.ContainsFunc(ks, func(k apikeys.Key) bool { return k.Name == "sneaky" }) {
			t.Error("a guild manager created a key for every guild")
		}
	})
}

// TestPlatformKeyHistoryPages: the operators' history of keys for every
// guild pages through all of it, 20 changes at a time, newest first, not
// only the latest 20.
func TestPlatformKeyHistoryPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := audit.ViaCommandLine(context.Background())
		probe := newRig(t, db, rigOpts{})
		r := newRig(t, db, rigOpts{operators: []int64{int64(probe.demo.AdminID)}})
		op := r.signIn(r.demo.AdminID)
		keys := apikeys.NewService(db, nil)
		var prefixes []string // oldest first
		for i := range 25 {
			k, _, err := keys.Create(ctx, 0, apikeys.Spec{Name: "job-" + strconv.Itoa(i), Scope: apikeys.Read})
			if err != nil {
				t.Fatal(err)
			}
			prefixes = append(prefixes, k.Prefix)
		}
		entries := func(body string) []string {
			i := strings.Index(body, `id="key-history"`)
			if i < 0 {
				t.Fatalf("no history:\n%s", body)
			}
			var got []string
			for _, m := range regexp.MustCompile(`<strong class="action">API key created</strong>: <code>([0-9a-f]+)</code>`).FindAllStringSubmatch(body[i:], -1) {
				got = append(got, m[1])
			}
			return got
		}
		older := regexp.MustCompile(`<a href="(/apikeys\?before=\d+)#key-history" rel="next">Older changes</a>`)

		first := op.get("/apikeys")
		got := entries(first.body)
		want := slices.Clone(prefixes[5:])
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("first page: %v, want the 20 newest %v", got, want)
		}
		next := older.FindStringSubmatch(first.body)
		if next == nil || strings.Contains(first.body, ">Newest</a>") {
			t.Fatalf("first page's pager:\n%s", first.body)
		}
		second := op.get(next[1])
		got = entries(second.body)
		want = slices.Clone(prefixes[:5])
		slices.Reverse(want)
		if second.StatusCode != 200 || !slices.Equal(got, want) {
			t.Fatalf("second page: %d %v, want %v", second.StatusCode, got, want)
		}
		if older.MatchString(second.body) || !strings.Contains(second.body, `<a href="/apikeys#key-history">Newest</a>`) ||
			!strings.Contains(second.body, "Older changes</h2>") {
			t.Fatalf("last page's pager:\n%s", second.body)
		}
		// A cursor past the oldest change: nothing older, a way back.
		if res := op.get("/apikeys?before=1"); !strings.Contains(res.body, "No older changes.") {
			t.Fatalf("past the end:\n%s", res.body)
		}
		// A malformed cursor is the newest page, as on the audit log.
		if res := op.get("/apikeys?before=junk"); res.StatusCode != 200 || !slices.Equal(entries(res.body), entries(first.body)) {
			t.Fatalf("malformed cursor: %d", res.StatusCode)
		}
	})
}
