package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/web"
)

// rig is the dashboard over a real database, signing in through the Discord
// emulator's OAuth2.
type rig struct {
	t     *testing.T
	db    *store.DB
	emu   *emulator.Emulator
	demo  *emulator.Demo
	econ  *economy.Service
	sq    *squads.Service
	mod   *moderation.Service
	srv   *httptest.Server
	guild int64
}

type rigOpts struct {
	operators  []int64
	devMode    bool
	listenAddr string
	status     func(*web.Deps) // sets the status page's sources
	publicURL  string
	// discord wraps the emulator's handler, to see what the dashboard sends
	// Discord; nil: the emulator as is.
	discord func(http.Handler) http.Handler
}

// testSessionKey seals the Discord tokens of the rig's sessions.
var testSessionKey = bytes.Repeat([]byte{7}, 32)

func newRig(t *testing.T, db *store.DB, o rigOpts) *rig {
	t.Helper()
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	econ := economy.NewService(db, b, economy.Options{})
	emu := emulator.NewTest(t)
	if o.listenAddr == "" {
		o.listenAddr = "127.0.0.1:8080"
	}
	mod := moderation.NewService(db, b, moderation.Options{Logger: slog.New(slog.DiscardHandler)})
	apiURL := emu.APIURL()
	if o.discord != nil {
		proxy := httptest.NewServer(o.discord(emu.Handler()))
		t.Cleanup(proxy.Close)
		apiURL = proxy.URL + "/api/v10"
	}
	d := web.Deps{
		DB: db, Economy: econ, Squads: squads.NewService(db, econ), APIKeys: apikeys.NewService(db, nil), Moderation: mod,
		Discord: discordapi.New(discordapi.Options{APIURL: apiURL, BotToken: emu.BotToken(),
			ClientID: emu.ClientID(), ClientSecret: emu.ClientSecret()}),
		Logger:      slog.New(slog.NewTextHandler(testLog{t}, nil)),
		OperatorIDs: o.operators, DevMode: o.devMode, ListenAddr: o.listenAddr,
		PublicURL: o.publicURL, SessionKey: testSessionKey,
	}
	if o.status != nil {
		o.status(&d)
	}
	h, err := web.New(d)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, db: db, emu: emu, demo: emu.Demo(), econ: econ, sq: squads.NewService(db, econ), mod: mod, srv: httptest.NewServer(h)}
	r.guild = int64(r.demo.GuildID)
	t.Cleanup(r.srv.Close)
	return r
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	r    *rig
	c    *http.Client
	csrf string
	ua   string // User-Agent; "" for Go's
}

func (r *rig) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{r: r, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) resp {
	b.r.t.Helper()
	if b.ua != "" {
		req.Header.Set("User-Agent", b.ua)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.r.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfInput.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return resp{res, string(body)}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *browser) get(path string) resp {
	b.r.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.r.srv.URL + path
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// post sends a form with the last CSRF token seen (unless form has one).
func (b *browser) post(path string, form url.Values) resp {
	b.r.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.r.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn runs the OAuth2 flow as user through the emulator and returns the
// browser holding the session.
func (r *rig) signIn(user emulator.ID) *browser {
	r.t.Helper()
	return r.signInFrom(user, "")
}

// signInFrom signs in from a browser that sends this User-Agent.
func (r *rig) signInFrom(user emulator.ID, ua string) *browser {
	r.t.Helper()
	b := r.browser()
	b.ua = ua
	res := b.get("/auth/login")
	if res.StatusCode != http.StatusFound {
		r.t.Fatalf("/auth/login: %d", res.StatusCode)
	}
	authorize := res.Header.Get("Location") + "&emulator_user=" + strconv.FormatUint(uint64(user), 10)
	res = b.get(authorize)
	if res.StatusCode != http.StatusFound {
		r.t.Fatalf("authorize: %d %s", res.StatusCode, res.body)
	}
	res = b.get(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		r.t.Fatalf("callback: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	b.get("/") // picks up the CSRF token
	return b
}

func (r *rig) path(rest string) string { return "/guilds/" + strconv.FormatInt(r.guild, 10) + rest }

func (r *rig) openAccount(user emulator.ID) {
	r.t.Helper()
	if _, _, err := r.econ.EnsureAccount(context.Background(), r.guild, economy.Member{ID: int64(user), Name: "m"}); err != nil {
		r.t.Fatal(err)
	}
}
