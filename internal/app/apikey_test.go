package app

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// bearerStatus calls one API route with token.
func bearerStatus(t *testing.T, addr, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/guilds/1/bytes/leaderboard", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestAPIKeyCommands drives the CLI against the database a running server
// uses: a created key authenticates, a revoked one does not, a rotated one
// is replaced.
func TestAPIKeyCommands(t *testing.T) {
	env := sqliteEnv(t)
	code, out, errOut := run(t, env, "apikey", "create", "--name", "ci", "--scope", "read")
	if code != 0 || !strings.HasPrefix(out, "sdk_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("create: %d %q %s", code, out, errOut)
	}
	token := strings.TrimSpace(out)
	prefix := strings.Split(token, "_")[1]

	srv := start(t, env, "serve")
	if s := bearerStatus(t, srv.addr, token); s != http.StatusOK {
		t.Fatalf("created key: %d", s)
	}

	code, out, _ = run(t, env, "apikey", "list")
	if code != 0 || !strings.Contains(out, prefix) || !strings.Contains(out, "LAST USED") || !strings.Contains(out, "ci") {
		t.Fatalf("list: %d %s", code, out)
	}

	code, out, errOut = run(t, env, "apikey", "rotate", prefix)
	if code != 0 || !strings.HasPrefix(out, "sdk_") {
		t.Fatalf("rotate: %d %q %s", code, out, errOut)
	}
	rotated := strings.TrimSpace(out)
	refusedWithin(t, srv.addr, token, "old key after rotate")
	if s := bearerStatus(t, srv.addr, rotated); s != http.StatusOK {
		t.Fatalf("rotated key: %d", s)
	}

	if code, out, _ = run(t, env, "apikey", "revoke", strings.Split(rotated, "_")[1]); code != 0 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	refusedWithin(t, srv.addr, rotated, "revoked key")

	// A key bound to a guild is in that guild's audit log, as made from the
	// command line (a key for every guild goes to the operators' page, not a guild's log).
	code, out, errOut = run(t, env, "apikey", "create", "--name", "ops", "--scope", "admin", "--guild", "1")
	if code != 0 {
		t.Fatalf("create for a guild: %d %s", code, errOut)
	}
	ops := strings.TrimSpace(out)
	req, _ := http.NewRequest("GET", "http://"+srv.addr+"/api/v1/guilds/1/audit", nil)
	req.Header.Set("Authorization", "Bearer "+ops)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct{ Action, Target, Via string }
	}
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || len(page.Items) != 1 || page.Items[0].Action != "apikeys.create" || page.Items[0].Via != "cli" ||
		page.Items[0].Target != "apikey:"+strings.Split(ops, "_")[1] {
		t.Fatalf("audit of the guild: %+v %v", page, err)
	}

	// A lifetime: days or a duration, between an hour and five years.
	day := func() string { return "expires " + time.Now().UTC().Add(30*24*time.Hour).Format("2006-01-02") }
	before := day()
	code, _, errOut = run(t, env, "apikey", "create", "--name", "tmp", "--scope", "read", "--expires-in", "30d")
	if code != 0 || !strings.Contains(errOut, before) && !strings.Contains(errOut, day()) {
		t.Fatalf("create with a lifetime: %d %s", code, errOut)
	}
	for _, bad := range []string{"soon", "0d", "-3h", "10m", "2000d", "106751991167d"} {
		if code, _, errOut = run(t, env, "apikey", "create", "--name", "x", "--scope", "read", "--expires-in", bad); code != ExitUsage || !strings.Contains(errOut, "expires") {
			t.Errorf("--expires-in %s: %d %s", bad, code, errOut)
		}
	}
	if code, out, errOut = run(t, env, "apikey", "list"); code != 0 || !strings.Contains(out, "EXPIRES") || strings.Contains(errOut, "warning") {
		t.Errorf("list: %d, no expiry column, or a warning for a key a month from its end: %s %s", code, out, errOut)
	}
	// A key in its last week is named on stderr, the table unchanged.
	if code, _, errOut = run(t, env, "apikey", "create", "--name", "nightly", "--scope", "read", "--expires-in", "3d"); code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	if code, out, errOut = run(t, env, "apikey", "list"); code != 0 || !strings.Contains(errOut, `("nightly") stops working on `) ||
		strings.Contains(errOut, `"tmp"`) || strings.Contains(out, "warning") {
		t.Errorf("list with a key in its last week: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut = run(t, env, "apikey", "create", "--name", "x", "--scope", "root"); code != ExitUsage || !strings.Contains(errOut, "scope") {
		t.Fatalf("bad scope: %d %s", code, errOut)
	}
	if code, _, errOut = run(t, env, "apikey", "revoke", "ffffffffffff"); code != ExitFailure {
		t.Fatalf("unknown prefix: %d %s", code, errOut)
	}
}

// refusedWithin waits for a key revoked by another process (the CLI) to be
// refused: at once with Redis, within apikeys.VerifiedFor without it.
func refusedWithin(t *testing.T, addr, token, what string) {
	t.Helper()
	deadline := time.Now().Add(apikeys.VerifiedFor + 2*time.Second)
	for {
		s := bearerStatus(t, addr, token)
		if s == http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d after %s", what, s, apikeys.VerifiedFor)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPIKeyExpiring: /metrics reports when the soonest-expiring working key
// ends, and the built-in APIKeyExpiring names the keys ending within a week.
func TestAPIKeyExpiring(t *testing.T) {
	env := sqliteEnv(t)
	srv := start(t, env, "serve")
	if body := scrape(t, srv.addr); !strings.Contains(body, "smarterdev_api_key_next_expiry_timestamp_seconds 0\n") {
		t.Fatalf("/metrics before any key with a lifetime:\n%s", body)
	}
	for _, args := range [][]string{{"--name", "forever"}, {"--name", "later", "--expires-in", "30d"}, {"--name", "soon", "--expires-in", "3d"}} {
		if code, _, errOut := run(t, env, append([]string{"apikey", "create", "--scope", "read"}, args...)...); code != 0 {
			t.Fatalf("create %v: %d %s", args, code, errOut)
		}
	}
	m := regexp.MustCompile(`(?m)^smarterdev_api_key_next_expiry_timestamp_seconds (\S+)$`).FindStringSubmatch(scrape(t, srv.addr))
	if m == nil {
		t.Fatal("no expiry gauge")
	}
	ts, _ := strconv.ParseFloat(m[1], 64)
	if got := time.Until(time.Unix(int64(ts), 0)); got < 71*time.Hour || got > 72*time.Hour {
		t.Fatalf("next expiry in %s, want the 3-day key's", got)
	}

	db := storetest.Open(t, store.SQLite)
	keys := apikeys.NewService(db, nil)
	check := keysExpiringCheck(keys, time.Now)
	if msg, err := check(context.Background()); msg != "" || err != nil {
		t.Fatalf("no keys: %q %v", msg, err)
	}
	soon, _, _ := keys.Create(context.Background(), 0, apikeys.Spec{Name: "deploy-bot", Scope: apikeys.Write, TTL: 48 * time.Hour})
	_, _, _ = keys.Create(context.Background(), 0, apikeys.Spec{Name: "quarterly", Scope: apikeys.Read, TTL: 90 * 24 * time.Hour})
	msg, err := check(context.Background())
	if err != nil || !strings.HasPrefix(msg, "1 API key expires within 7 days: \"deploy-bot\" ("+soon.Prefix+")") || strings.Contains(msg, "quarterly") {
		t.Fatalf("alert: %q %v", msg, err)
	}
	if _, err := keys.Revoke(context.Background(), 0, soon.Prefix); err != nil {
		t.Fatal(err)
	}
	if msg, err := check(context.Background()); msg != "" || err != nil {
		t.Fatalf("a revoked key still alerts: %q %v", msg, err)
	}
	if !alerting.Known("APIKeyExpiring") {
		t.Error("APIKeyExpiring cannot be muted by name")
	}
}
