package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/web"
)

// "Sign out everywhere" ends every session of the admin, in every browser,
// and no one else's; it needs the session's CSRF token.
func TestSignOutEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, rigOpts{})
		laptop, phone := r.signIn(r.demo.AdminID), r.signIn(r.demo.AdminID)
		other := r.signIn(r.demo.OwnerID)
		page := laptop.get("/")
		if !strings.Contains(page.body, `action="/signout/everywhere"`) || !strings.Contains(page.body, "Sign out everywhere") {
			t.Fatalf("no sign-out-everywhere button on the dashboard:\n%s", page.body)
		}

		res := laptop.post("/signout/everywhere", url.Values{"csrf_token": {strings.Repeat("A", 43)}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "<html") {
			t.Fatalf("without the CSRF token: %d, want an HTML 403", res.StatusCode)
		}
		if res := phone.get(r.path("/config")); res.StatusCode != http.StatusOK {
			t.Fatalf("a refused sign-out ended the other session: %d", res.StatusCode)
		}

		res = laptop.post("/signout/everywhere", nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
			t.Fatalf("sign out everywhere: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if res := laptop.get("/signin"); !strings.Contains(res.body, "signed out on every device") {
			t.Error("no confirmation after signing out everywhere")
		}
		for name, b := range map[string]*browser{"this browser": laptop, "the other browser": phone} {
			if res := b.get("/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
				t.Errorf("%s still signed in: %d", name, res.StatusCode)
			}
		}
		var n int
		if err := db.SQL().QueryRow("SELECT COUNT(*) FROM web_sessions WHERE user_id = $1", int64(r.demo.AdminID)).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d sessions of the admin left (%v)", n, err)
		}
		if res := other.get(r.path("/config")); res.StatusCode != http.StatusOK {
			t.Errorf("another user's session ended too: %d", res.StatusCode)
		}
	})
}

// bearerLog records the OAuth2 access tokens the dashboard sends Discord.
type bearerLog struct {
	mu     sync.Mutex
	tokens []string
}

func (l *bearerLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			l.mu.Lock()
			l.tokens = append(l.tokens, tok)
			l.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func (l *bearerLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tokens...)
}

// The Discord access token of a session is stored sealed: the row holds
// neither the token nor any part of it, the session still works with it,
// and a sealed token moved to another row or a plain one ends the session.
func TestSessionTokenSealed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seen := &bearerLog{}
		r := newRig(t, db, rigOpts{discord: seen.wrap})
		admin, owner := r.signIn(r.demo.AdminID), r.signIn(r.demo.OwnerID)
		if res := admin.get(r.path("/config")); res.StatusCode != http.StatusOK {
			t.Fatalf("guild page with a sealed token: %d", res.StatusCode)
		}
		tokens := seen.all()
		if len(tokens) == 0 {
			t.Fatal("the dashboard sent Discord no access token")
		}
		stored := map[int64]string{}
		rows, err := db.SQL().Query("SELECT user_id, access_token FROM web_sessions")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var user int64
			var tok string
			if err := rows.Scan(&user, &tok); err != nil {
				t.Fatal(err)
			}
			stored[user] = tok
		}
		_ = rows.Close()
		if len(stored) != 2 {
			t.Fatalf("sessions %v", stored)
		}
		for user, s := range stored {
			if s == "" || !strings.HasPrefix(s, "v1:") {
				t.Errorf("user %d: stored token %q is not sealed", user, s)
			}
			for _, tok := range tokens {
				if strings.Contains(s, tok) || strings.Contains(s, tok[:len(tok)/2]) {
					t.Errorf("user %d: the stored value contains the access token", user)
				}
			}
		}

		// Sealed for one session, it does not open in another.
		admin64, owner64 := int64(r.demo.AdminID), int64(r.demo.OwnerID)
		if _, err := db.SQL().Exec("UPDATE web_sessions SET access_token = $1 WHERE user_id = $2", stored[owner64], admin64); err != nil {
			t.Fatal(err)
		}
		if res := admin.get(r.path("/config")); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
			t.Errorf("a token sealed for another session was accepted: %d", res.StatusCode)
		}
		// A token stored in plain text (before sealing) ends its session and
		// leaves the database.
		if _, err := db.SQL().Exec("UPDATE web_sessions SET access_token = $1 WHERE user_id = $2", tokens[0], owner64); err != nil {
			t.Fatal(err)
		}
		if res := owner.get(r.path("/config")); res.StatusCode != http.StatusSeeOther {
			t.Errorf("a plain-text token was accepted: %d", res.StatusCode)
		}
		var n int
		if err := db.SQL().QueryRow("SELECT COUNT(*) FROM web_sessions").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d sessions with unreadable tokens left (%v)", n, err)
		}
	})
}

// Behind a proxy that terminates TLS, the public URL makes the OAuth2
// redirect URI and the Secure cookie flag, and is a trusted Origin.
func TestPublicURL(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	t.Run("https", func(t *testing.T) {
		r := newRig(t, db, rigOpts{publicURL: "https://dash.example.com"})
		res := r.browser().get("/auth/login")
		loc, _ := url.Parse(res.Header.Get("Location"))
		if got := loc.Query().Get("redirect_uri"); got != "https://dash.example.com/auth/callback" {
			t.Errorf("redirect_uri %q", got)
		}
		var oauth *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == "sd_oauth" {
				oauth = c
			}
		}
		if oauth == nil || !oauth.Secure || !oauth.HttpOnly {
			t.Errorf("over a TLS-terminating proxy the cookie must be Secure: %+v", oauth)
		}
	})
	t.Run("sign-in through the proxy", func(t *testing.T) {
		const public = "http://dash.example.test"
		r := newRig(t, db, rigOpts{publicURL: public})
		b := r.browser()
		res := b.get("/auth/login")
		res = b.get(res.Header.Get("Location") + "&emulator_user=" + strconv.FormatUint(uint64(r.demo.AdminID), 10))
		callback := res.Header.Get("Location")
		if !strings.HasPrefix(callback, public+"/auth/callback?") {
			t.Fatalf("Discord sends the browser to %q, want the public URL", callback)
		}
		// The proxy forwards the public address to this server.
		res = b.get(r.srv.URL + strings.TrimPrefix(callback, public))
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Fatalf("callback: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		for _, c := range res.Cookies() {
			if c.Name == "sd_session" && c.Secure {
				t.Error("an http public URL makes a Secure cookie")
			}
		}
		b.get("/")
		form := formValues(b.get(r.path("/config")).body)
		post := func(origin string) int {
			req, _ := http.NewRequest(http.MethodPost, r.srv.URL+r.path("/config"), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", origin)
			return b.do(req).StatusCode
		}
		if code := post(public); code != http.StatusSeeOther {
			t.Errorf("a form from the public origin: %d", code)
		}
		if code := post("http://evil.example"); code != http.StatusForbidden {
			t.Errorf("a form from another origin: %d", code)
		}
	})
	t.Run("unset", func(t *testing.T) {
		r := newRig(t, db, rigOpts{})
		res := r.browser().get("/auth/login")
		loc, _ := url.Parse(res.Header.Get("Location"))
		if got, want := loc.Query().Get("redirect_uri"), r.srv.URL+"/auth/callback"; got != want {
			t.Errorf("redirect_uri %q, want %q (the request's own)", got, want)
		}
	})
}

// A dashboard path asked with a method it does not take is an HTML 405
// page with an Allow header; unknown paths stay 404 pages.
func TestMethodNotAllowedPage(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	anon := r.browser()
	for _, c := range []struct {
		b                   *browser
		method, path, allow string
	}{
		{anon, "POST", "/signin", "GET, HEAD"},
		{anon, "DELETE", "/signout", "POST"},
		{admin, "PUT", r.path("/config"), "GET, HEAD, POST"},
		{admin, "POST", "/", "GET, HEAD"},
		{admin, "PATCH", r.path("/squads/1"), "GET, HEAD, POST"},
		{anon, "POST", "/static/app.css", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(c.method, r.srv.URL+c.path, nil)
		res := c.b.do(req)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.path, res.StatusCode, res.Header.Get("Allow"), c.allow)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(res.body, "<html") ||
			!strings.Contains(res.body, "Request id") {
			t.Errorf("%s %s: not the HTML error page (%s)", c.method, c.path, ct)
		}
	}
	req, _ := http.NewRequest("DELETE", r.srv.URL+"/nowhere", nil)
	if res := admin.do(req); res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, "Page not found") {
		t.Errorf("unknown path: %d", res.StatusCode)
	}
}

// The sessions page lists where the admin is signed in, by browser, and
// ends one other session on its own; never someone else's, never without
// the CSRF token.
func TestSessionsPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, rigOpts{})
		const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
		const phoneUA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
		laptop := r.signInFrom(r.demo.AdminID, firefox)
		phone := r.signInFrom(r.demo.AdminID, phoneUA)
		other := r.signIn(r.demo.OwnerID)

		page := laptop.get("/sessions")
		if page.StatusCode != 200 || strings.Count(page.body, "<tr>") != 2+1 || !strings.Contains(page.body, "<strong>Firefox on Windows</strong> <span class=\"badge\">this browser</span>") ||
			!strings.Contains(page.body, "<strong>Chrome on Android</strong>") || !strings.Contains(page.body, "after 2 hours without use, and 7 days") {
			t.Fatalf("sessions page: %d\n%s", page.StatusCode, page.body)
		}
		if !strings.Contains(laptop.get("/").body, `href="/sessions"`) {
			t.Error("no way to the sessions page from the header")
		}
		refs := regexp.MustCompile(`action="/sessions/([0-9a-f]{16})/end"`).FindAllStringSubmatch(page.body, -1)
		if len(refs) != 1 {
			t.Fatalf("want one other session to end, got %v", refs)
		}
		phoneRef := refs[0][1]

		// Someone else cannot end it, nor can a request without the token.
		if res := other.post("/sessions/"+phoneRef+"/end", nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("another user ending the session: %d", res.StatusCode)
		}
		if res := laptop.post("/sessions/"+phoneRef+"/end", url.Values{"csrf_token": {"nope"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("without the CSRF token: %d", res.StatusCode)
		}
		if res := phone.get("/"); res.StatusCode != 200 {
			t.Fatalf("the phone was signed out by a refused request: %d", res.StatusCode)
		}
		for _, bad := range []string{"XYZ", strings.Repeat("0", 16), strings.Repeat("a", 17)} {
			if res := laptop.post("/sessions/"+bad+"/end", nil); res.StatusCode != http.StatusNotFound {
				t.Errorf("ending session %q: %d", bad, res.StatusCode)
			}
		}
		own := regexp.MustCompile(`(?s)this browser</span>.*?</tr>`).FindString(page.body)
		if strings.Contains(own, "/end") {
			t.Error("this browser's own session is offered for ending (Sign out does that)")
		}

		res := laptop.post("/sessions/"+phoneRef+"/end", nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sessions" {
			t.Fatalf("end the phone's session: %d", res.StatusCode)
		}
		if res := phone.get("/"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
			t.Errorf("the phone is still signed in: %d", res.StatusCode)
		}
		after := laptop.get("/sessions")
		if !strings.Contains(after.body, "That session is signed out.") || strings.Contains(after.body, "Chrome on Android") {
			t.Errorf("after ending:\n%s", after.body)
		}
		if res := other.get("/"); res.StatusCode != 200 {
			t.Errorf("someone else's session ended too: %d", res.StatusCode)
		}
	})
}

func TestDeviceNames(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36":                                   "Chrome on Linux",
		"curl/8.5.0": "curl",
		"":           "Unknown browser",
		"SomeBot/1":  "SomeBot/1",
	} {
		if got := web.DeviceOf(ua); got != want {
			t.Errorf("%q: %q, want %q", ua, got, want)
		}
	}
}

// A session keeps at most 300 bytes of valid UTF-8 of its User-Agent.
func TestUserAgentKept(t *testing.T) {
	for ua, want := range map[string]string{
		"Firefox/133.0 \xff(bad byte)":  "Firefox/133.0 (bad byte)",
		strings.Repeat("a", 299) + "é!": strings.Repeat("a", 299), // é would be cut in two
		strings.Repeat("b", 400):        strings.Repeat("b", 300),
	} {
		req, _ := http.NewRequest("GET", "/", nil)
		req.Header.Set("User-Agent", ua)
		if got := web.UserAgentOf(req); got != want {
			t.Errorf("%.20q...: kept %d bytes %.20q..., want %d", ua, len(got), got, len(want))
		}
	}
}
