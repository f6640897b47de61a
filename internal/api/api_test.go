package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// rig is the API over a real database behind a real HTTP server, with one
// key of each scope plus one bound to guild 1.
type rig struct {
	t                          *testing.T
	db                         *store.DB
	srv                        *httptest.Server
	keys                       *apikeys.Service
	read, write, admin, guild1 string
}

func newRig(t *testing.T, db *store.DB, limit ratelimit.Limit, with ...func(*api.Deps)) *rig {
	t.Helper()
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	econ := economy.NewService(db, b, economy.Options{})
	keys := apikeys.NewService(db, nil)
	deps := api.Deps{
		DB: db, Economy: econ, Squads: squads.NewService(db, econ), Moderation: moderation.NewService(db, b, moderation.Options{}), Keys: keys,
		Idempotency: idempotency.NewStore(db, nil), Limit: limit,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, nil)),
	}
	for _, f := range with {
		f(&deps)
	}
	h, err := api.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, db: db, srv: httptest.NewServer(h), keys: keys}
	t.Cleanup(r.srv.Close)
	r.read = r.key("reader", apikeys.Read, 0)
	r.write = r.key("writer", apikeys.Write, 0)
	r.admin = r.key("admin", apikeys.Admin, 0)
	r.guild1 = r.key("guild one", apikeys.Admin, 1)
	return r
}

// with returns the rig reporting to a subtest.
func (r *rig) with(t *testing.T) *rig {
	c := *r
	c.t = t
	return &c
}

func (r *rig) key(name string, s apikeys.Scope, guild int64) string {
	_, token, err := r.keys.Create(context.Background(), 0, apikeys.Spec{Name: name, Scope: s, GuildID: guild})
	if err != nil {
		r.t.Fatal(err)
	}
	return token
}

// testLog sends the API's log to the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

// do sends a request; body may be nil, a string (sent raw) or a value (JSON).
func (r *rig) do(method, path, key string, body any, headers ...string) resp {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, r.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	out := resp{Status: res.StatusCode, Header: res.Header}
	out.Raw, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.Raw, &out.JSON)
	return out
}

func (r *rig) expect(got resp, status int) resp {
	r.t.Helper()
	if got.Status != status {
		r.t.Fatalf("status %d, want %d: %s", got.Status, status, got.Raw)
	}
	if status >= 400 && got.Header.Get("Content-Type") != "application/problem+json" {
		r.t.Fatalf("error content type %q: %s", got.Header.Get("Content-Type"), got.Raw)
	}
	return got
}

// fieldError asserts a 422 naming location (e.g. "body.amount").
func (r *rig) fieldError(got resp, location string) {
	r.t.Helper()
	r.expect(got, http.StatusUnprocessableEntity)
	for _, e := range list(got.JSON["errors"]) {
		if obj(e)["location"] == location {
			return
		}
	}
	r.t.Fatalf("no error for %s: %s", location, got.Raw)
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

const g1 = "/api/v1/guilds/1"

func TestAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, db, ratelimit.Limit{Rate: 10000, Burst: 10000})
		t.Run("auth", func(t *testing.T) { testAuth(r.with(t)) })
		t.Run("bytes", func(t *testing.T) { testBytes(r.with(t)) })
		t.Run("validation", func(t *testing.T) { testValidation(r.with(t)) })
		t.Run("idempotency", func(t *testing.T) { testIdempotency(r.with(t)) })
		t.Run("pagination", func(t *testing.T) { testPagination(r.with(t)) })
		t.Run("squads", func(t *testing.T) { testSquads(r.with(t)) })
		t.Run("admin", func(t *testing.T) { testAdmin(r.with(t)) })
		t.Run("moderation", func(t *testing.T) { testModeration(r.with(t)) })
	})
}

func testAuth(r *rig) {
	path := g1 + "/bytes/leaderboard"
	for _, key := range []string{"", "nonsense", "sdk_000000000000_" + strings.Repeat("a", 64), r.read + "x"} {
		got := r.expect(r.do("GET", path, key, nil), http.StatusUnauthorized)
		if !strings.HasPrefix(got.Header.Get("WWW-Authenticate"), "Bearer") {
			r.t.Errorf("401 without WWW-Authenticate: %v", got.Header)
		}
		if got.Header.Get("RateLimit-Limit") != "" {
			r.t.Error("an unauthenticated response carries rate limit headers")
		}
	}
	// An expired key: 401, and the holder of the secret is told why.
	_, expired, err := apikeys.NewService(r.db, func() time.Time { return time.Now().Add(-2 * time.Hour) }).
		Create(context.Background(), 0, apikeys.Spec{Name: "old", Scope: apikeys.Read, TTL: time.Hour})
	if err != nil {
		r.t.Fatal(err)
	}
	if got := r.expect(r.do("GET", path, expired, nil), http.StatusUnauthorized); !strings.Contains(got.JSON["detail"].(string), "expired at") {
		r.t.Errorf("expired key: %s", got.Raw)
	}
	got := r.expect(r.do("GET", path, r.read, nil), http.StatusOK)
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-Request-Id"} {
		if got.Header.Get(h) == "" {
			r.t.Errorf("missing %s", h)
		}
	}
	// Scope: read < write < admin.
	r.expect(r.do("POST", g1+"/bytes/daily/5", r.read, nil), http.StatusForbidden)
	r.expect(r.do("PUT", g1+"/bytes/config", r.write, map[string]any{}), http.StatusForbidden)
	r.expect(r.do("POST", g1+"/squads", r.write, map[string]any{"name": "x", "role_id": "1"}), http.StatusForbidden)
	r.expect(r.do("POST", g1+"/bytes/adjustments", r.write, map[string]any{"user_id": "5", "amount": 1, "reason": "x"}), http.StatusForbidden)
	// A key bound to guild 1 works there and nowhere else.
	r.expect(r.do("GET", g1+"/bytes/config", r.guild1, nil), http.StatusOK)
	r.expect(r.do("GET", "/api/v1/guilds/2/bytes/config", r.guild1, nil), http.StatusForbidden)
	// Revoked keys stop working at once.
	token := r.key("temp", apikeys.Read, 0)
	r.expect(r.do("GET", path, token, nil), http.StatusOK)
	if _, err := r.keys.Revoke(context.Background(), 0, strings.Split(token, "_")[1]); err != nil {
		r.t.Fatal(err)
	}
	r.expect(r.do("GET", path, token, nil), http.StatusUnauthorized)
	// Unknown routes are problems too.
	r.expect(r.do("GET", "/api/v1/nothing", r.read, nil), http.StatusNotFound)
}

func testBytes(r *rig) {
	// Unknown member: 404, and reading opens nothing.
	r.expect(r.do("GET", g1+"/bytes/balances/10", r.read, nil), http.StatusNotFound)
	r.expect(r.do("GET", g1+"/bytes/balances/10", r.read, nil), http.StatusNotFound)
	r.expect(r.do("GET", g1+"/bytes/ledger/10", r.read, nil), http.StatusNotFound)

	d := r.expect(r.do("POST", g1+"/bytes/daily/10", r.write, nil), http.StatusOK)
	if d.JSON["amount"] != 10.0 || obj(d.JSON["account"])["balance"] != 110.0 || obj(d.JSON["account"])["user_id"] != "10" {
		r.t.Fatalf("daily: %s", d.Raw)
	}
	again := r.expect(r.do("POST", g1+"/bytes/daily/10", r.write, nil), http.StatusConflict)
	if again.Header.Get("Retry-After") == "" || again.JSON["retry_after_seconds"] == nil || again.JSON["next_at"] == nil {
		r.t.Fatalf("already claimed without retry info: %v %s", again.Header, again.Raw)
	}
	bal := r.expect(r.do("GET", g1+"/bytes/balances/10", r.read, nil), http.StatusOK)
	if bal.JSON["balance"] != 110.0 || bal.JSON["guild_id"] != "1" {
		r.t.Fatalf("balance: %s", bal.Raw)
	}

	tr := r.expect(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "11", "amount": 30, "reason": "thanks"}), http.StatusCreated)
	if obj(tr.JSON["giver"])["balance"] != 80.0 || obj(tr.JSON["receiver"])["balance"] != 130.0 {
		r.t.Fatalf("transfer: %s", tr.Raw)
	}
	// Refused: insufficient funds, with the numbers.
	poor := r.expect(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "11", "amount": 500}), http.StatusUnprocessableEntity)
	if poor.JSON["balance"] != 80.0 || poor.JSON["needed"] != 500.0 || poor.JSON["code"] != "refused" {
		r.t.Fatalf("insufficient funds: %s", poor.Raw)
	}

	lb := r.expect(r.do("GET", g1+"/bytes/leaderboard?limit=1&user=10", r.read, nil), http.StatusOK)
	top := list(lb.JSON["top"])
	if len(top) != 1 || obj(top[0])["user_id"] != "11" || obj(lb.JSON["caller"])["rank"] != 2.0 {
		r.t.Fatalf("leaderboard: %s", lb.Raw)
	}
	ts := r.expect(r.do("GET", g1+"/bytes/transfers?user=11", r.read, nil), http.StatusOK)
	if items := list(ts.JSON["items"]); len(items) != 1 || obj(items[0])["kind"] != "transfer_in" {
		r.t.Fatalf("transfers of user: %s", ts.Raw)
	}
	led := r.expect(r.do("GET", g1+"/bytes/ledger/10", r.read, nil), http.StatusOK)
	if items := list(led.JSON["items"]); len(items) != 3 { // open, daily, transfer_out
		r.t.Fatalf("ledger: %s", led.Raw)
	}

	// Cooldown: 409 with the wait.
	cfg := r.expect(r.do("GET", g1+"/bytes/config", r.read, nil), http.StatusOK).JSON
	cfg["transfer_cooldown_hours"] = 2
	delete(cfg, "version")
	r.expect(r.do("PUT", g1+"/bytes/config", r.admin, cfg), http.StatusOK)
	cool := r.expect(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "11", "amount": 1}), http.StatusConflict)
	if cool.Header.Get("Retry-After") == "" || cool.JSON["retry_after_seconds"] == nil {
		r.t.Fatalf("cooldown: %s", cool.Raw)
	}
	cfg["transfer_cooldown_hours"] = 0
	saved := r.expect(r.do("PUT", g1+"/bytes/config", r.admin, cfg), http.StatusOK)
	if saved.JSON["version"] != 2.0 {
		r.t.Fatalf("config version: %s", saved.Raw)
	}
}

func testValidation(r *rig) {
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "x", "amount": 0}), "body.receiver_id")
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "11", "amount": 0}), "body.amount")
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "11", "amount": 5, "reason": strings.Repeat("r", 201)}), "body.reason")
	// Domain validation names the field too.
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "10", "amount": 5}), "body.receiver_id")
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{
		"giver_id": "10", "receiver_id": "11", "amount": 5000}), "body.amount")
	r.fieldError(r.do("GET", "/api/v1/guilds/abc/bytes/balances/10", r.read, nil), "path.guild")
	r.fieldError(r.do("GET", g1+"/bytes/balances/99999999999999999999", r.read, nil), "path.user")
	r.fieldError(r.do("GET", g1+"/bytes/leaderboard?limit=101", r.read, nil), "query.limit")
	r.fieldError(r.do("GET", g1+"/bytes/transfers?limit=0", r.read, nil), "query.limit")
	r.fieldError(r.do("GET", g1+"/bytes/transfers?cursor=!!", r.read, nil), "query.cursor")
	r.fieldError(r.do("GET", g1+"/audit?cursor=bm9wZQ", r.read, nil), "query.cursor")
	cfg := map[string]any{"starting_balance": 100, "daily_amount": 10, "max_transfer": 0, "transfer_cooldown_hours": 0,
		"streak_tiers": []any{}, "squad_min_balance": 0, "role_rewards": []any{}}
	r.fieldError(r.do("PUT", g1+"/bytes/config", r.admin, cfg), "body.max_transfer")
	cfg["max_transfer"] = 10
	cfg["streak_tiers"] = []any{map[string]any{"days": 3, "multiplier": 2, "name": "a"}, map[string]any{"days": 3, "multiplier": 3, "name": "b"}}
	r.fieldError(r.do("PUT", g1+"/bytes/config", r.admin, cfg), "body.streak_tiers[1].days")
	r.fieldError(r.do("POST", g1+"/squads", r.admin, map[string]any{"name": "", "role_id": "5"}), "body.name")
	r.fieldError(r.do("POST", g1+"/bytes/adjustments", r.admin, map[string]any{"user_id": "10", "amount": 0, "reason": "x"}), "body.amount")
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, map[string]any{"giver_id": "10", "receiver_id": "11", "amount": 1},
		"Idempotency-Key", strings.Repeat("k", 256)), "header.Idempotency-Key")
}

func testIdempotency(r *rig) {
	body := map[string]any{"giver_id": "20", "receiver_id": "21", "amount": 7, "reason": "retry me"}
	first := r.expect(r.do("POST", g1+"/bytes/transfers", r.write, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	second := r.expect(r.do("POST", g1+"/bytes/transfers", r.write, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	if !bytes.Equal(first.Raw, second.Raw) || second.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		r.t.Fatalf("replay differs:\n%s\n%s\n%v", first.Raw, second.Raw, second.Header)
	}
	led := r.expect(r.do("GET", g1+"/bytes/ledger/20", r.read, nil), http.StatusOK)
	outs := 0
	for _, e := range list(led.JSON["items"]) {
		if obj(e)["kind"] == "transfer_out" {
			outs++
		}
	}
	if outs != 1 {
		r.t.Fatalf("%d transfers in the ledger after a replay: %s", outs, led.Raw)
	}
	// Same key, different body: 422.
	body["amount"] = 8
	r.fieldError(r.do("POST", g1+"/bytes/transfers", r.write, body, "Idempotency-Key", "k-1"), "header.Idempotency-Key")
	// Keys are per API key: another key may reuse the name.
	r.expect(r.do("POST", g1+"/bytes/transfers", r.admin, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	// Refusals replay too (the first answer is the answer).
	d1 := r.expect(r.do("POST", g1+"/bytes/daily/20", r.write, nil, "Idempotency-Key", "d-1"), http.StatusOK)
	d2 := r.expect(r.do("POST", g1+"/bytes/daily/20", r.write, nil, "Idempotency-Key", "d-1"), http.StatusOK)
	if !bytes.Equal(d1.Raw, d2.Raw) {
		r.t.Fatal("daily replay differs")
	}
	// The same key on another member's daily is another request.
	r.fieldError(r.do("POST", g1+"/bytes/daily/21", r.write, nil, "Idempotency-Key", "d-1"), "header.Idempotency-Key")
}

func testPagination(r *rig) {
	const guild = "/api/v1/guilds/3"
	for i := range 7 {
		r.expect(r.do("POST", guild+"/bytes/transfers", r.write, map[string]any{
			"giver_id": "30", "receiver_id": fmt.Sprint(31 + i), "amount": 1}), http.StatusCreated)
	}
	seen := map[float64]bool{}
	cursor, pages := "", 0
	for {
		got := r.expect(r.do("GET", guild+"/bytes/transfers?limit=3&cursor="+cursor, r.read, nil), http.StatusOK)
		pages++
		for _, e := range list(got.JSON["items"]) {
			id := obj(e)["id"].(float64)
			if seen[id] {
				r.t.Fatalf("transfer %v seen twice", id)
			}
			seen[id] = true
		}
		next, _ := got.JSON["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
		if pages > 10 {
			r.t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 7 || pages != 3 {
		r.t.Fatalf("saw %d transfers in %d pages, want 7 in 3", len(seen), pages)
	}
	// Audit log pages the same way.
	got := r.expect(r.do("GET", g1+"/audit?limit=1", r.read, nil), http.StatusOK)
	if len(list(got.JSON["items"])) != 1 || got.JSON["next_cursor"] == nil {
		r.t.Fatalf("audit: %s", got.Raw)
	}
	r.expect(r.do("GET", g1+"/audit?limit=1&cursor="+got.JSON["next_cursor"].(string), r.read, nil), http.StatusOK)
}

func testSquads(r *rig) {
	const guild = "/api/v1/guilds/4"
	a := r.expect(r.do("POST", guild+"/squads", r.admin, map[string]any{"name": "Gophers", "role_id": "400", "max_members": 1}), http.StatusCreated)
	if a.JSON["switch_cost"] != 50.0 || a.JSON["active"] != true || a.Header.Get("Location") == "" {
		r.t.Fatalf("create squad: %v %s", a.Header, a.Raw)
	}
	b := r.expect(r.do("POST", guild+"/squads", r.admin, map[string]any{"name": "Crabs", "role_id": "401", "switch_cost": 500}), http.StatusCreated)
	r.expect(r.do("POST", guild+"/squads", r.admin, map[string]any{"name": "gophers", "role_id": "402"}), http.StatusConflict)
	sa, sb := a.JSON["id"].(string), b.JSON["id"].(string)

	r.expect(r.do("GET", guild+"/squads/999", r.read, nil), http.StatusNotFound)
	r.expect(r.do("POST", guild+"/squads/999/join", r.write, map[string]any{"user_id": "40"}), http.StatusNotFound)
	r.expect(r.do("GET", guild+"/members/40/squad", r.read, nil), http.StatusNotFound)
	if l := r.expect(r.do("GET", guild+"/squads", r.read, nil), http.StatusOK); len(list(l.JSON["items"])) != 2 {
		r.t.Fatalf("list squads: %s", l.Raw)
	}

	j := r.expect(r.do("POST", guild+"/squads/"+sa+"/join", r.write, map[string]any{"user_id": "40"}, "Idempotency-Key", "j1"), http.StatusOK)
	if j.JSON["cost"] != 0.0 {
		r.t.Fatalf("join: %s", j.Raw)
	}
	r.expect(r.do("POST", guild+"/squads/"+sa+"/join", r.write, map[string]any{"user_id": "40"}), http.StatusConflict)
	full := r.expect(r.do("POST", guild+"/squads/"+sa+"/join", r.write, map[string]any{"user_id": "41"}), http.StatusUnprocessableEntity)
	if full.JSON["max_members"] != 1.0 || full.JSON["code"] != "refused" {
		r.t.Fatalf("squad full: %s", full.Raw)
	}
	poor := r.expect(r.do("POST", guild+"/squads/"+sb+"/join", r.write, map[string]any{"user_id": "40"}), http.StatusUnprocessableEntity)
	if poor.JSON["needed"] != 500.0 {
		r.t.Fatalf("switch without funds: %s", poor.Raw)
	}
	m := r.expect(r.do("GET", guild+"/members/40/squad", r.read, nil), http.StatusOK)
	if obj(m.JSON["squad"])["id"] != sa {
		r.t.Fatalf("member squad: %s", m.Raw)
	}
	p := r.expect(r.do("PATCH", guild+"/squads/"+sa, r.admin, map[string]any{"max_members": 0, "description": "new"}), http.StatusOK)
	if p.JSON["description"] != "new" || p.JSON["name"] != "Gophers" || p.JSON["max_members"] != 0.0 {
		r.t.Fatalf("patch: %s", p.Raw)
	}
	for _, u := range []string{"41", "42", "43"} {
		r.expect(r.do("POST", guild+"/squads/"+sa+"/join", r.write, map[string]any{"user_id": u}), http.StatusOK)
	}
	var got []string
	cursor := ""
	for range 5 {
		pg := r.expect(r.do("GET", guild+"/squads/"+sa+"/members?limit=2&cursor="+cursor, r.read, nil), http.StatusOK)
		for _, it := range list(pg.JSON["items"]) {
			got = append(got, obj(it)["user_id"].(string))
		}
		cursor, _ = pg.JSON["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if strings.Join(got, ",") != "40,41,42,43" {
		r.t.Fatalf("members: %v", got)
	}
	r.expect(r.do("POST", guild+"/squads/leave", r.write, map[string]any{"user_id": "40"}), http.StatusOK)
	r.expect(r.do("POST", guild+"/squads/leave", r.write, map[string]any{"user_id": "40"}), http.StatusConflict)
	r.expect(r.do("DELETE", guild+"/squads/"+sb, r.admin, nil), http.StatusNoContent)
	r.expect(r.do("GET", guild+"/squads/"+sb, r.read, nil), http.StatusNotFound)
	r.expect(r.do("DELETE", guild+"/squads/"+sb, r.admin, nil), http.StatusNotFound)
}

func testAdmin(r *rig) {
	const guild = "/api/v1/guilds/5"
	a := r.expect(r.do("POST", guild+"/bytes/adjustments", r.admin, map[string]any{"user_id": "50", "amount": 25, "reason": "welcome"}), http.StatusCreated)
	if a.JSON["balance"] != 125.0 {
		r.t.Fatalf("grant: %s", a.Raw)
	}
	d := r.expect(r.do("POST", guild+"/bytes/adjustments", r.admin, map[string]any{"user_id": "50", "amount": -500, "reason": "too much"}), http.StatusUnprocessableEntity)
	if d.JSON["balance"] != 125.0 || d.JSON["needed"] != 500.0 {
		r.t.Fatalf("deduct: %s", d.Raw)
	}
	au := r.expect(r.do("GET", guild+"/audit", r.read, nil), http.StatusOK)
	items := list(au.JSON["items"])
	// The API key is who made the change: the entry names it, by prefix.
	prefix := strings.Split(r.admin, "_")[1]
	if len(items) != 1 || obj(items[0])["action"] != "bytes.grant" || obj(items[0])["api_key"] != prefix || obj(items[0])["via"] != "api" || obj(items[0])["actor_id"] != nil {
		r.t.Fatalf("audit: %s", au.Raw)
	}
	// Filters: by the part of the product, by who made the change (the
	// dashboard and the bot record a Discord user; the API its key).
	if _, err := economy.NewService(r.db, bus.NewMemory(), economy.Options{}).Adjust(context.Background(), 5, economy.Member{ID: 50, Name: "fifty"}, 77, 5, "by hand"); err != nil {
		r.t.Fatal(err)
	}
	for query, want := range map[string]int{"": 2, "area=bytes": 2, "area=squads": 0, "actor=77": 1, "actor=999": 0, "area=bytes&actor=77": 1, "area=squads&actor=77": 0,
		"api_key=" + prefix: 1, "api_key=" + prefix + "&actor=77": 0, "api_key=0123456789ab": 0, "area=squads&api_key=" + prefix: 0} {
		if got := list(r.expect(r.do("GET", guild+"/audit?"+query, r.read, nil), http.StatusOK).JSON["items"]); len(got) != want {
			r.t.Errorf("audit?%s: %d entries, want %d", query, len(got), want)
		}
	}
	r.fieldError(r.do("GET", guild+"/audit?area=economy", r.read, nil), "query.area")
	r.fieldError(r.do("GET", guild+"/audit?actor=me", r.read, nil), "query.actor")
	r.fieldError(r.do("GET", guild+"/audit?api_key=sdk_"+prefix, r.read, nil), "query.api_key")
}

func TestRateLimit(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	r := newRig(t, db, ratelimit.Limit{Rate: 1, Burst: 3})
	for i := range 3 {
		got := r.expect(r.do("GET", g1+"/bytes/leaderboard", r.read, nil), http.StatusOK)
		if got.Header.Get("RateLimit-Remaining") != fmt.Sprint(2-i) || got.Header.Get("RateLimit-Limit") != "3" {
			t.Fatalf("request %d: %v", i, got.Header)
		}
	}
	got := r.expect(r.do("GET", g1+"/bytes/leaderboard", r.read, nil), http.StatusTooManyRequests)
	if got.Header.Get("Retry-After") != "1" || got.JSON["retry_after_seconds"] != 1.0 {
		t.Fatalf("429: %v %s", got.Header, got.Raw)
	}
	// Limits are per key.
	r.expect(r.do("GET", g1+"/bytes/leaderboard", r.write, nil), http.StatusOK)
}

func TestOpenAPIAndDocs(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	r := newRig(t, db, ratelimit.Default)
	spec := r.expect(r.do("GET", "/api/openapi.json", "", nil), http.StatusOK)
	if v, _ := spec.JSON["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi version %q", v)
	}
	paths := obj(spec.JSON["paths"])
	want := map[string][]string{
		"/api/v1/guilds/{guild}/bytes/balances/{user}":  {"get"},
		"/api/v1/guilds/{guild}/bytes/daily/{user}":     {"post"},
		"/api/v1/guilds/{guild}/bytes/transfers":        {"get", "post"},
		"/api/v1/guilds/{guild}/bytes/leaderboard":      {"get"},
		"/api/v1/guilds/{guild}/bytes/config":           {"get", "put"},
		"/api/v1/guilds/{guild}/bytes/adjustments":      {"post"},
		"/api/v1/guilds/{guild}/bytes/ledger/{user}":    {"get"},
		"/api/v1/guilds/{guild}/audit":                  {"get"},
		"/api/v1/guilds/{guild}/squads":                 {"get", "post"},
		"/api/v1/guilds/{guild}/squads/{squad}":         {"get", "patch", "delete"},
		"/api/v1/guilds/{guild}/squads/{squad}/join":    {"post"},
		"/api/v1/guilds/{guild}/squads/leave":           {"post"},
		"/api/v1/guilds/{guild}/squads/{squad}/members": {"get"},
		"/api/v1/guilds/{guild}/members/{user}/squad":   {"get"},
		"/api/v1/guilds/{guild}/automod/rules":          {"get", "post"},
		"/api/v1/guilds/{guild}/automod/rules/{rule}":   {"get", "put", "delete"},
		"/api/v1/guilds/{guild}/automod/try":            {"post"},
		"/api/v1/guilds/{guild}/cases":                  {"get"},
		"/api/v1/guilds/{guild}/cases/{number}":         {"get"},
		"/api/v1/guilds/{guild}/cases/{number}/resolve": {"post"},
		"/api/v1/guilds/{guild}/automod/settings":       {"get", "put"},
	}
	for p, methods := range want {
		for _, m := range methods {
			o := obj(obj(paths[p])[m])
			if o == nil {
				t.Errorf("spec lacks %s %s", m, p)
				continue
			}
			if o["summary"] == "" || o["description"] == "" || len(list(o["tags"])) == 0 || o["security"] == nil {
				t.Errorf("%s %s lacks summary, description, tags or security", m, p)
			}
			resps := obj(o["responses"])
			for _, code := range []string{"401", "403", "422", "429", "500"} {
				if resps[code] == nil {
					t.Errorf("%s %s does not document %s", m, p, code)
				}
			}
		}
	}
	docs := r.expect(r.do("GET", "/api/docs", "", nil), http.StatusOK)
	html := string(docs.Raw)
	if !strings.HasPrefix(docs.Header.Get("Content-Type"), "text/html") || !strings.Contains(html, "/bytes/transfers") {
		t.Fatalf("docs: %s", docs.Header.Get("Content-Type"))
	}
	for _, bad := range []string{`src="http`, `href="http`, "<script", "@import"} {
		if strings.Contains(html, bad) {
			t.Errorf("docs page loads something external: %q", bad)
		}
	}
}

func TestInternalErrorIsProblem(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	r := newRig(t, db, ratelimit.Default)
	// A closed database makes every call fail: a 500 problem with a request
	// id and a generic message, the cause only in the log.
	db.Close()
	got := r.expect(r.do("GET", g1+"/bytes/leaderboard", r.read, nil), http.StatusInternalServerError)
	if got.JSON["request_id"] == "" || got.JSON["request_id"] != got.Header.Get("X-Request-Id") || strings.Contains(string(got.Raw), "sql") {
		t.Fatalf("500: %s", got.Raw)
	}
}

func testModeration(r *rig) {
	rules := g1 + "/automod/rules"
	// A bad pattern is refused with what is wrong, and nothing is saved.
	bad := r.do("POST", rules, r.admin, map[string]any{"name": "raid", "kind": "username", "enabled": true, "pattern": "raid(er", "action": "ban"})
	r.fieldError(bad, "body.pattern")
	if !strings.Contains(string(bad.Raw), "missing closing )") {
		r.t.Fatalf("the refusal should say what is wrong: %s", bad.Raw)
	}
	r.expect(r.do("POST", rules, r.write, map[string]any{"name": "x", "kind": "username", "pattern": "x", "action": "ban"}), http.StatusForbidden)
	created := r.expect(r.do("POST", rules, r.admin, map[string]any{"name": "raid", "kind": "username", "enabled": true,
		"pattern": `^raider\d+$`, "action": "ban", "exempt_roles": []string{"55"}}), http.StatusCreated)
	id, _ := created.JSON["id"].(string)
	if id == "" || list(created.JSON["exempt_roles"])[0] != "55" || created.Header.Get("Location") != rules+"/"+id {
		r.t.Fatalf("created rule: %s", created.Raw)
	}
	if got := r.expect(r.do("GET", rules, r.read, nil), http.StatusOK); len(list(got.JSON["items"])) != 1 {
		r.t.Fatalf("rules: %s", got.Raw)
	}
	tried := r.expect(r.do("POST", g1+"/automod/try", r.read, map[string]any{"username": "RAIDER7"}), http.StatusOK)
	out := list(tried.JSON["outcomes"])
	if len(out) != 1 || obj(out[0])["triggered"] != true || obj(out[0])["action"] != "ban" {
		r.t.Fatalf("try: %s", tried.Raw)
	}
	r.expect(r.do("PUT", rules+"/"+id, r.admin, map[string]any{"name": "raid", "kind": "username", "enabled": false, "pattern": "x", "action": "kick"}), http.StatusOK)
	r.expect(r.do("GET", rules+"/999999", r.read, nil), http.StatusNotFound)
	r.expect(r.do("DELETE", rules+"/"+id, r.admin, nil), http.StatusNoContent)
	r.expect(r.do("DELETE", rules+"/"+id, r.admin, nil), http.StatusNotFound)

	r.expect(r.do("GET", g1+"/cases/1", r.read, nil), http.StatusNotFound)
	got := r.expect(r.do("GET", g1+"/cases?state=open&action=ban&user=123", r.read, nil), http.StatusOK)
	if len(list(got.JSON["items"])) != 0 {
		r.t.Fatalf("cases: %s", got.Raw)
	}
	r.fieldError(r.do("GET", g1+"/cases?state=lost", r.read, nil), "query.state")
	testModSettings(r)
	testResolveCase(r)
}

func testModSettings(r *rig) {
	path := g1 + "/automod/settings"
	def := r.expect(r.do("GET", path, r.read, nil), http.StatusOK)
	if def.JSON["moderators_exempt"] != true || def.JSON["version"] != 0.0 || def.JSON["exempt_roles"] == nil || def.JSON["mod_log_channel"] != nil {
		r.t.Fatalf("defaults: %s", def.Raw)
	}
	body := map[string]any{"mod_log_channel": "900", "exempt_roles": []string{"55", "56"}, "exempt_channels": []string{"70"},
		"moderators_exempt": false, "escalate_after": 3, "escalate_window_hours": 24, "escalate_action": "timeout", "escalate_timeout_seconds": 3600}
	r.expect(r.do("PUT", path, r.write, body), http.StatusForbidden)
	saved := r.expect(r.do("PUT", path, r.admin, body), http.StatusOK)
	if saved.JSON["version"] != 1.0 || saved.JSON["mod_log_channel"] != "900" || fmt.Sprint(saved.JSON["exempt_roles"]) != "[55 56]" ||
		saved.JSON["moderators_exempt"] != false || saved.JSON["escalate_action"] != "timeout" || saved.JSON["escalate_timeout_seconds"] != 3600.0 {
		r.t.Fatalf("saved: %s", saved.Raw)
	}
	if got := r.expect(r.do("GET", path, r.read, nil), http.StatusOK); string(got.Raw) != string(saved.Raw) {
		r.t.Fatalf("read back %s, saved %s", got.Raw, saved.Raw)
	}
	// Each refusal names its field and changes nothing.
	for field, change := range map[string]map[string]any{
		"body.escalate_after":           {"escalate_after": 1},
		"body.escalate_action":          {"escalate_action": "delete"},
		"body.escalate_timeout_seconds": {"escalate_timeout_seconds": 0},
		"body.escalate_window_hours":    {"escalate_window_hours": 0},
		"body.exempt_roles[1]":          {"exempt_roles": []string{"55", "x"}},
		"body.exempt_channels[0]":       {"exempt_channels": []string{"0"}},
		"body.mod_log_channel":          {"mod_log_channel": "#mod-log"},
	} {
		bad := maps.Clone(body)
		maps.Copy(bad, change)
		r.fieldError(r.do("PUT", path, r.admin, bad), field)
	}
	if got := r.expect(r.do("GET", path, r.read, nil), http.StatusOK); string(got.Raw) != string(saved.Raw) {
		r.t.Fatalf("a refused save changed the settings: %s", got.Raw)
	}
	au := r.expect(r.do("GET", g1+"/audit?area=moderation", r.read, nil), http.StatusOK)
	if items := list(au.JSON["items"]); len(items) != 1 || obj(items[0])["api_key"] != strings.Split(r.admin, "_")[1] {
		r.t.Fatalf("audit: %s", au.Raw)
	}
}

func testResolveCase(r *rig) {
	mod := moderation.NewService(r.db, bus.NewMemory(), moderation.Options{})
	opened, err := mod.Open(context.Background(), 1, moderation.Input{TargetID: 123, ModeratorID: 9, Action: automod.ActionBan, Reason: "raid"})
	if err != nil {
		r.t.Fatal(err)
	}
	path := fmt.Sprintf("%s/cases/%d/resolve", g1, opened.Case.Number)
	r.expect(r.do("POST", path, r.read, map[string]any{"note": "x"}), http.StatusForbidden)
	r.fieldError(r.do("POST", path, r.write, map[string]any{"note": strings.Repeat("n", 501)}), "body.note")
	res := r.expect(r.do("POST", path, r.write, map[string]any{"note": "appealed", "reverse": true}), http.StatusOK)
	if res.JSON["state"] != "reversed" || res.JSON["note"] != "appealed" || res.JSON["target_id"] != "123" {
		r.t.Fatalf("resolved: %s", res.Raw)
	}
	r.expect(r.do("POST", path, r.write, map[string]any{"note": "again"}), http.StatusConflict)
	r.expect(r.do("POST", g1+"/cases/99999/resolve", r.write, map[string]any{}), http.StatusNotFound)
	if got := r.expect(r.do("GET", fmt.Sprintf("%s/cases/%d", g1, opened.Case.Number), r.read, nil), http.StatusOK); got.JSON["state"] != "reversed" {
		r.t.Fatalf("case after resolve: %s", got.Raw)
	}
	au := r.expect(r.do("GET", g1+"/audit?area=cases", r.read, nil), http.StatusOK)
	if items := list(au.JSON["items"]); len(items) != 1 || obj(items[0])["action"] != "cases.reversed" || obj(items[0])["api_key"] != strings.Split(r.write, "_")[1] {
		r.t.Fatalf("audit: %s", au.Raw)
	}
}
