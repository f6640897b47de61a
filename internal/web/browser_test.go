package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/smarterdev/smarterdev/internal/app"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// chromium finds Debian's chromium; the test never downloads a browser.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("SMARTERDEV_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if storetest.RequireServices() {
		t.Fatal("SMARTERDEV_REQUIRE_SERVICES=1 but chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// startApp runs the whole program (serve: web, bot and worker) on SQLite
// against the emulator, as an operator would configure it.
func startApp(t *testing.T, emu *emulator.Emulator) string {
	t.Helper()
	env := map[string]string{
		config.EnvDatabaseURL:         "sqlite:" + filepath.Join(t.TempDir(), "smarterdev.db"),
		config.EnvHTTPAddr:            "127.0.0.1:0",
		config.EnvDiscordAPIURL:       emu.APIURL(),
		config.EnvDiscordToken:        emu.BotToken(),
		config.EnvDiscordClientID:     emu.ClientID(),
		config.EnvDiscordClientSecret: emu.ClientSecret(),
		config.EnvDiscordGuildID:      strconv.FormatUint(uint64(emu.Demo().GuildID), 10),
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	role := app.RoleServe // web, bot (gateway to the emulator) and worker
	if raceEnabled {
		role = app.RoleWeb
	}
	a, err := app.Start(ctx, cfg, app.Options{Role: role})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = a.Wait() })
	return "http://" + a.Addr()
}

// screenshotOnFailure saves the page as a PNG when the test failed.
func screenshotOnFailure(t *testing.T, ctx context.Context) {
	if !t.Failed() {
		return
	}
	dir := t.ArtifactDir()
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "smarterdev-screenshots")
	}
	_ = os.MkdirAll(dir, 0o755)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failure: %s", path)
}

func TestBrowser(t *testing.T) {
	exe := chromium(t)
	emu := emulator.NewTest(t)
	demo := emu.Demo()
	base := startApp(t, emu)
	guild := strconv.FormatUint(uint64(demo.GuildID), 10)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run := func(t *testing.T, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, timeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	body := func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		if err != nil {
			t.Fatal(err)
		}
		return html
	}
	signIn := func(t *testing.T, user emulator.ID) {
		run(t, 20*time.Second,
			chromedp.Navigate(base+"/signin"),
			chromedp.Click(chromedp.CSS("#signin-discord")),
			// The emulator's consent page lists users to pick.
			chromedp.WaitVisible(chromedp.CSS("#user-"+strconv.FormatUint(uint64(user), 10))),
			chromedp.Click(chromedp.CSS("#user-"+strconv.FormatUint(uint64(user), 10))),
			chromedp.WaitVisible(chromedp.CSS("h1")),
		)
	}

	t.Run("admin signs in through OAuth2", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		signIn(t, demo.AdminID)
		if b := body(t); !strings.Contains(b, "Smarter Dev Demo") || !strings.Contains(b, "Grace Admin") {
			t.Fatalf("overview after sign-in:\n%s", b)
		}
	})

	// saveConfig opens the bytes configuration, retypes the fields given as
	// id, value pairs and presses Save.
	saveConfig := func(fields ...string) []chromedp.Action[chromedp.Void] {
		acts := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(base + "/guilds/" + guild + "/config"), chromedp.WaitVisible(chromedp.CSS("#daily_amount"))}
		for i := 0; i+1 < len(fields); i += 2 {
			acts = append(acts, chromedp.Clear(chromedp.CSS("#"+fields[i])), chromedp.SendKeys(chromedp.CSS("#"+fields[i]), fields[i+1]))
		}
		return append(acts, chromedp.Click(chromedp.CSS("button.primary")))
	}

	t.Run("changes the daily amount and sees it in the audit log", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		run(t, 20*time.Second, append(saveConfig("daily_amount", "42"),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
			chromedp.Navigate(base+"/guilds/"+guild+"/audit"),
			chromedp.WaitVisible(chromedp.CSS("ol.audit")),
		)...)
		if b := body(t); !strings.Contains(b, "<ins>42</ins>") || !strings.Contains(b, "bytes.config.update") {
			t.Fatalf("audit log:\n%s", b)
		}
		shot(t, bctx, "audit")
	})

	// htmx 2 drops a 4xx response unless told to swap it: the 422 with the
	// messages next to the fields must reach the page, with what was typed.
	t.Run("sees what is wrong next to the field when a value is refused", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		run(t, 20*time.Second, append(saveConfig("daily_amount", "-7", "max_transfer", "lots"),
			chromedp.WaitVisible(chromedp.CSS("#daily_amount-error")))...)
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		daily, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#daily_amount")))
		if err != nil {
			t.Fatal(err)
		}
		b := body(t)
		if daily != "-7" || !strings.Contains(b, `id="max_transfer-error"`) || !strings.Contains(b, `id="form-errors"`) || strings.Contains(b, `class="flash"`) {
			t.Fatalf("daily_amount %q after a refused save; page:\n%s", daily, b)
		}
		shot(t, bctx, "config-refused")
	})

	var apiKey string
	t.Run("creates an API key, shown once", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		run(t, 20*time.Second,
			chromedp.Navigate(base+"/guilds/"+guild+"/apikeys"),
			chromedp.WaitVisible(chromedp.CSS("#key-name")),
			chromedp.SendKeys(chromedp.CSS("#key-name"), "browser test"),
			chromedp.SetValue(chromedp.CSS("#scope"), "admin"),
			chromedp.SetValue(chromedp.CSS("#expires_in"), "90"),
			chromedp.Click(chromedp.CSS("section.card button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#new-token")),
		)
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		var err error
		if apiKey, err = chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#new-token"))); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(apiKey, "sdk_") {
			t.Fatalf("key %q", apiKey)
		}
		label, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`label[for="new-token"]`)))
		if want := "(admin, until " + time.Now().UTC().AddDate(0, 0, 90).Format("2006-01-02"); err != nil || !strings.Contains(label, want) {
			t.Fatalf("new key label %q, want %q: %v", label, want, err)
		}
		shot(t, bctx, "apikeys")
	})

	t.Run("creates a squad and the bot lists it", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		role := strconv.FormatUint(uint64(demo.Roles[emulator.RoleGophers]), 10)
		run(t, 20*time.Second,
			chromedp.Navigate(base+"/guilds/"+guild+"/squads"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "Browser Gophers"),
			chromedp.SetValue(chromedp.CSS("#role_id"), role),
			chromedp.Click(chromedp.CSS("section.card button.primary")),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
		)
		if b := body(t); !strings.Contains(b, "Browser Gophers") {
			t.Fatalf("squad list:\n%s", b)
		}
		shot(t, bctx, "squads")
		// Through the bot: /squads list in the emulator.
		var got string
		err := fmt.Errorf("not run under -race (disgo's own data races)")
		if !raceEnabled {
			got, err = squadsListThroughBot(emu, demo)
		}
		if err != nil {
			t.Logf("the bot did not answer /squads list (%v); checking through the REST API instead", err)
			got = apiGet(t, base, apiKey, "/api/v1/guilds/"+guild+"/squads")
		}
		t.Logf("/squads list through the bot: %.300s", got)
		if !strings.Contains(got, "Browser Gophers") {
			t.Fatalf("the squad is not listed: %s", got)
		}
	})

	t.Run("opens a member profile", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		gary := strconv.FormatUint(uint64(demo.Members["gopher_gary"]), 10)
		apiPost(t, base, apiKey, "/api/v1/guilds/"+guild+"/bytes/daily/"+gary)
		run(t, 20*time.Second,
			chromedp.Navigate(base+"/guilds/"+guild+"/members"),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/guilds/`+guild+`/members/`+gary+`"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/guilds/`+guild+`/members/`+gary+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#balance")),
		)
		b := body(t)
		if !strings.Contains(b, "Gary") || !strings.Contains(b, "Daily reward") {
			t.Fatalf("profile:\n%s", b)
		}
		shot(t, bctx, "member-profile")
		run(t, 20*time.Second, chromedp.Navigate(base+"/guilds/"+guild), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
		shot(t, bctx, "activity")
		run(t, 20*time.Second, chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/guilds/"+guild+"/config"), chromedp.WaitVisible(chromedp.CSS("#daily_amount")))
		shot(t, bctx, "config-phone")
		run(t, 5*time.Second, chromedp.EmulateViewport(1280, 900))
	})

	t.Run("adds a username rule and tries it", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		run(t, 20*time.Second,
			chromedp.Navigate(base+"/guilds/"+guild+"/automod"),
			chromedp.WaitVisible(chromedp.CSS("#pattern")),
			chromedp.SendKeys(chromedp.CSS("#name"), "Nitro scam"),
			chromedp.SendKeys(chromedp.CSS("#pattern"), "free.?nitro"),
			chromedp.Click(chromedp.CSS("form.rule-form button.primary")),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
			chromedp.WaitVisible(chromedp.CSS("#rules")),
			chromedp.SendKeys(chromedp.CSS("#try-username"), "FREE-Nitro giveaway"),
			chromedp.Click(chromedp.CSS("#try button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#try-result .pill.bad")),
		)
		if b := body(t); !strings.Contains(b, "triggers: warn") || !strings.Contains(b, "Nitro scam") { // a new rule starts as a warning
			t.Fatalf("try it:\n%s", b)
		}
		shot(t, bctx, "automod")
		run(t, 20*time.Second, chromedp.Navigate(base+"/status"), chromedp.WaitVisible(chromedp.CSS("#components")))
		shot(t, bctx, "status")
		run(t, 20*time.Second, chromedp.Navigate(base+"/sessions"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
		if b := body(t); !strings.Contains(b, "this browser") || !strings.Contains(b, "Chrome on Linux") {
			t.Fatalf("sessions page in Chromium:\n%s", b)
		}
		shot(t, bctx, "sessions")
		run(t, 20*time.Second, chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/guilds/"+guild+"/automod"), chromedp.WaitVisible(chromedp.CSS("#pattern")))
		shot(t, bctx, "automod-phone")
		run(t, 20*time.Second, chromedp.Navigate(base+"/status"), chromedp.WaitVisible(chromedp.CSS("#components")))
		shot(t, bctx, "status-phone")
		run(t, 5*time.Second, chromedp.EmulateViewport(1280, 900))
	})

	// An element wider than the screen (a table's screen-reader text escaping
	// its scroller once did) makes the whole page scroll sideways on a phone.
	t.Run("every page fits a phone's width", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		defer run(t, 5*time.Second, chromedp.EmulateViewport(1280, 900))
		run(t, 5*time.Second, chromedp.EmulateViewport(390, 844))
		for _, p := range []string{"/", "/guilds/" + guild, "/guilds/" + guild + "/config", "/guilds/" + guild + "/squads",
			"/guilds/" + guild + "/members", "/guilds/" + guild + "/members/" + strconv.FormatUint(uint64(demo.Members["gopher_gary"]), 10),
			"/guilds/" + guild + "/audit", "/guilds/" + guild + "/apikeys", "/guilds/" + guild + "/automod", "/status", "/sessions"} {
			run(t, 20*time.Second, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("h1")))
			ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
			w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if w > 390 {
				t.Errorf("%s is %d px wide on a 390 px screen", p, w)
			}
		}
	})

	t.Run("a member without Manage Server is refused", func(t *testing.T) {
		defer screenshotOnFailure(t, bctx)
		run(t, 20*time.Second,
			chromedp.Navigate(base+"/"),
			chromedp.Click(chromedp.CSS("button.link")), // sign out
			chromedp.WaitVisible(chromedp.CSS("#signin-discord")),
		)
		signIn(t, demo.Members["rusty_rita"])
		run(t, 20*time.Second, chromedp.Navigate(base+"/guilds/"+guild+"/config"), chromedp.WaitVisible(chromedp.CSS("h1")))
		if b := body(t); !strings.Contains(b, "Not allowed") || strings.Contains(b, "daily_amount") {
			t.Fatalf("not refused:\n%s", b)
		}
	})
}

// shot saves a screenshot for people to look at when
// SMARTERDEV_SCREENSHOTS names a folder.
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("SMARTERDEV_SCREENSHOTS")
	if dir == "" {
		return
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

func squadsListThroughBot(emu *emulator.Emulator, demo *emulator.Demo) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		registered := false
		for _, c := range emu.Commands() {
			if c.Name == "squads" {
				registered = true
			}
		}
		if registered {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the bot registered no /squads command")
		case <-time.After(200 * time.Millisecond):
		}
	}
	id, err := emu.RunCommand(demo.GuildID, demo.BotCommands, demo.Members["gopher_gary"], "squads list")
	if err != nil {
		return "", err
	}
	it, err := emu.AwaitResponse(ctx, id)
	if err != nil {
		return "", err
	}
	if it.Original == nil {
		b, _ := json.Marshal(it.ResponseData)
		return string(b), nil
	}
	b, err := json.Marshal(it.Original)
	return string(b), err
}

func apiGet(t *testing.T, base, key, path string) string {
	t.Helper()
	return apiDo(t, http.MethodGet, base, key, path)
}

func apiPost(t *testing.T, base, key, path string) string {
	t.Helper()
	return apiDo(t, http.MethodPost, base, key, path)
}

func apiDo(t *testing.T, method, base, key, path string) string {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return string(b)
}
