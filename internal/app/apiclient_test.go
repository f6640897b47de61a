package app

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/pkg/apiclient"
)

// newAPIClient is the generated client (pkg/apiclient) against a running
// server, sending token as the bearer key ("" sends none).
func newAPIClient(t *testing.T, addr, token string) *apiclient.ClientWithResponses {
	t.Helper()
	var opts []apiclient.ClientOption
	if token != "" {
		opts = append(opts, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	}
	c, err := apiclient.NewClientWithResponses("http://"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createKey issues an API key with the CLI, as an operator would.
func createKey(t *testing.T, env map[string]string, name, scope string) string {
	t.Helper()
	code, out, errOut := run(t, env, "apikey", "create", "--name", name, "--scope", scope)
	if code != ExitOK || !strings.HasPrefix(out, "sdk_") {
		t.Fatalf("apikey create %s: %d %q %s", scope, code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// TestGeneratedClient drives the real program (`smarterdev serve`, on
// SQLite and on PostgreSQL) through the client that oapi-codegen generates
// from api/openapi.json, and nothing else: every call below is typed, and
// so are the problems it decodes.
func TestGeneratedClient(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			env := sqliteEnv(t)
			if engine == store.Postgres {
				env[config.EnvDatabaseURL] = storetest.URL(t, store.Postgres)
				if code, out, errOut := run(t, env, "migrate", "up"); code != ExitOK {
					t.Fatalf("migrate up: %d %s %s", code, out, errOut)
				}
			}
			writeKey := createKey(t, env, "client-write", "write")
			adminKey := createKey(t, env, "client-admin", "admin")
			srv := start(t, env, "serve")
			testGeneratedClient(t, newAPIClient(t, srv.addr, writeKey), newAPIClient(t, srv.addr, adminKey), newAPIClient(t, srv.addr, ""))
		})
	}
}

func testGeneratedClient(t *testing.T, c, admin, anon *apiclient.ClientWithResponses) {
	ctx := context.Background()
	const (
		guild   = "1100000000000000001"
		alice   = "1200000000000000001"
		bob     = "1200000000000000002"
		carol   = "1200000000000000003"
		role    = "1300000000000000001"
		nobody  = "1299999999999999999"
		dailyIK = "daily-alice-1"
	)
	// status checks the HTTP status and that the body was decoded: a typed
	// result that is nil means the client did not recognise the response.
	status := func(what string, hr *http.Response, body []byte, want int, decoded bool) {
		t.Helper()
		if hr.StatusCode != want || !decoded {
			t.Fatalf("%s: status %d (want %d), decoded %v: %s", what, hr.StatusCode, want, decoded, body)
		}
	}

	// Configuration: the defaults, then an admin's replacement.
	cfg, err := c.GetBytesConfigWithResponse(ctx, guild)
	if err != nil {
		t.Fatal(err)
	}
	status("get config", cfg.HTTPResponse, cfg.Body, http.StatusOK, cfg.JSON200 != nil)
	if d := cfg.JSON200; d.Version != 0 || d.StartingBalance != 100 || d.DailyAmount != 10 || d.MaxTransfer != 1000 || len(d.StreakTiers) == 0 {
		t.Fatalf("default config: %+v", d)
	}
	body := apiclient.ConfigBody{
		StartingBalance: cfg.JSON200.StartingBalance, DailyAmount: 25, MaxTransfer: 300,
		TransferCooldownHours: cfg.JSON200.TransferCooldownHours, StreakTiers: cfg.JSON200.StreakTiers,
		SquadMinBalance: cfg.JSON200.SquadMinBalance, RoleRewards: []apiclient.RoleReward{},
	}
	// The write key may not change configuration: a typed 403.
	forbidden, err := c.PutBytesConfigWithResponse(ctx, guild, body)
	if err != nil {
		t.Fatal(err)
	}
	status("put config with a write key", forbidden.HTTPResponse, forbidden.Body, http.StatusForbidden, forbidden.ApplicationProblemJSON403 != nil)
	if p := forbidden.ApplicationProblemJSON403; p.Code == nil || *p.Code != "forbidden" || p.Status != http.StatusForbidden {
		t.Fatalf("403 problem: %s", forbidden.Body)
	}
	put, err := admin.PutBytesConfigWithResponse(ctx, guild, body)
	if err != nil {
		t.Fatal(err)
	}
	status("put config", put.HTTPResponse, put.Body, http.StatusOK, put.JSON200 != nil)
	if d := put.JSON200; d.Version != 1 || d.DailyAmount != 25 || d.MaxTransfer != 300 || !reflect.DeepEqual(d.StreakTiers, body.StreakTiers) {
		t.Fatalf("saved config: %+v", d)
	}
	cfg, err = c.GetBytesConfigWithResponse(ctx, guild)
	if err != nil {
		t.Fatal(err)
	}
	status("get config again", cfg.HTTPResponse, cfg.Body, http.StatusOK, cfg.JSON200 != nil)
	if d := cfg.JSON200; d.Version != 1 || d.DailyAmount != 25 || d.MaxTransfer != 300 {
		t.Fatalf("config read back: %+v", d)
	}
	// The change is in the audit log, which filters by part of the product.
	for area, want := range map[apiclient.ListAuditParamsArea]int{apiclient.Bytes: 1, apiclient.Squads: 0} {
		au, err := c.ListAuditWithResponse(ctx, guild, &apiclient.ListAuditParams{Area: &area})
		if err != nil {
			t.Fatal(err)
		}
		status("audit "+string(area), au.HTTPResponse, au.Body, http.StatusOK, au.JSON200 != nil)
		if got := au.JSON200.Items; len(got) != want || (want == 1 && (got[0].Action != "bytes.config.update" || got[0].APIKey == nil)) {
			t.Fatalf("audit of %s: %s", area, au.Body)
		}
	}
	// Moderation settings: escalation after 3 warnings a day, by timeout.
	three, day, hour, timeout := int64(3), int64(24), int64(3600), apiclient.ModerationSettingsEscalateActionTimeout
	ms, err := admin.PutModerationSettingsWithResponse(ctx, guild, apiclient.ModerationSettings{ModeratorsExempt: true,
		EscalateAfter: &three, EscalateWindowHours: &day, EscalateAction: &timeout, EscalateTimeoutSeconds: &hour})
	if err != nil {
		t.Fatal(err)
	}
	status("put moderation settings", ms.HTTPResponse, ms.Body, http.StatusOK, ms.JSON200 != nil)
	if d := ms.JSON200; d.Version == nil || *d.Version != 1 || d.EscalateAction == nil || *d.EscalateAction != timeout || d.ExemptRoles == nil {
		t.Fatalf("moderation settings: %s", ms.Body)
	}

	// Daily reward with an Idempotency-Key, then the retry, which replays it.
	ik := dailyIK
	daily, err := c.ClaimDailyWithResponse(ctx, guild, alice, &apiclient.ClaimDailyParams{IdempotencyKey: &ik})
	if err != nil {
		t.Fatal(err)
	}
	status("claim daily", daily.HTTPResponse, daily.Body, http.StatusOK, daily.JSON200 != nil)
	if d := daily.JSON200; d.Amount != 25 || d.Streak != 1 || d.Account.UserID != alice || d.Account.Balance != 125 {
		t.Fatalf("daily: %+v", d)
	}
	replay, err := c.ClaimDailyWithResponse(ctx, guild, alice, &apiclient.ClaimDailyParams{IdempotencyKey: &ik})
	if err != nil {
		t.Fatal(err)
	}
	status("replayed daily", replay.HTTPResponse, replay.Body, http.StatusOK, replay.JSON200 != nil)
	if replay.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" || !reflect.DeepEqual(replay.JSON200, daily.JSON200) {
		t.Fatalf("replay: %v %+v, first %+v", replay.HTTPResponse.Header, replay.JSON200, daily.JSON200)
	}
	// A new claim (another key) the same day is refused: a typed 409.
	ik2 := dailyIK + "-again"
	again, err := c.ClaimDailyWithResponse(ctx, guild, alice, &apiclient.ClaimDailyParams{IdempotencyKey: &ik2})
	if err != nil {
		t.Fatal(err)
	}
	status("second daily", again.HTTPResponse, again.Body, http.StatusConflict, again.ApplicationProblemJSON409 != nil)
	if p := again.ApplicationProblemJSON409; p.Code == nil || *p.Code != "conflict" || p.NextAt == nil || p.RetryAfterSeconds == nil || *p.RetryAfterSeconds < 1 {
		t.Fatalf("409 problem: %s", again.Body)
	}

	// Three transfers from alice (125) to bob, who is opened with 100.
	for i, amount := range []int64{10, 20, 30} {
		reason := "thanks"
		tr, err := c.CreateTransferWithResponse(ctx, guild, nil, apiclient.TransferInputBody{GiverID: alice, ReceiverID: bob, Amount: amount, Reason: &reason})
		if err != nil {
			t.Fatal(err)
		}
		status("transfer", tr.HTTPResponse, tr.Body, http.StatusCreated, tr.JSON201 != nil)
		paid := []int64{10, 30, 60}[i]
		if d := tr.JSON201; d.Amount != amount || d.Reason != reason || d.Giver.Balance != 125-paid || d.Receiver.Balance != 100+paid || d.RolesEarned == nil {
			t.Fatalf("transfer %d: %+v", amount, d)
		}
	}

	// The guild's transfers, two per page, newest first.
	var amounts []int64
	var cursor *string
	pages := 0
	for {
		limit := int64(2)
		page, err := c.ListTransfersWithResponse(ctx, guild, &apiclient.ListTransfersParams{Cursor: cursor, Limit: &limit})
		if err != nil {
			t.Fatal(err)
		}
		status("list transfers", page.HTTPResponse, page.Body, http.StatusOK, page.JSON200 != nil)
		pages++
		for _, e := range page.JSON200.Items {
			if e.Kind != apiclient.EntryKindTransferOut || e.UserID != alice || e.CounterpartyID == nil || *e.CounterpartyID != bob {
				t.Fatalf("transfer entry: %+v", e)
			}
			amounts = append(amounts, -e.Delta)
		}
		if cursor = page.JSON200.NextCursor; cursor == nil || pages > 5 {
			break
		}
	}
	if pages != 2 || !slices.Equal(amounts, []int64{30, 20, 10}) {
		t.Fatalf("%d pages of transfers: %v", pages, amounts)
	}
	// Bob's side of them.
	bobs, err := c.ListTransfersWithResponse(ctx, guild, &apiclient.ListTransfersParams{User: ptr(bob)})
	if err != nil {
		t.Fatal(err)
	}
	status("bob's transfers", bobs.HTTPResponse, bobs.Body, http.StatusOK, bobs.JSON200 != nil)
	if items := bobs.JSON200.Items; len(items) != 3 || items[0].Kind != apiclient.EntryKindTransferIn || items[0].Delta != 30 || bobs.JSON200.NextCursor != nil {
		t.Fatalf("bob's transfers: %s", bobs.Body)
	}

	// Balance and leaderboard.
	bal, err := c.GetBalanceWithResponse(ctx, guild, bob)
	if err != nil {
		t.Fatal(err)
	}
	status("balance", bal.HTTPResponse, bal.Body, http.StatusOK, bal.JSON200 != nil)
	if d := bal.JSON200; d.UserID != bob || d.Balance != 160 || d.TotalReceived != 60 || d.TotalSent != 0 {
		t.Fatalf("bob's balance: %+v", d)
	}
	lb, err := c.GetLeaderboardWithResponse(ctx, guild, &apiclient.GetLeaderboardParams{User: ptr(alice)})
	if err != nil {
		t.Fatal(err)
	}
	status("leaderboard", lb.HTTPResponse, lb.Body, http.StatusOK, lb.JSON200 != nil)
	want := []apiclient.Standing{{Rank: 1, UserID: bob, Balance: 160}, {Rank: 2, UserID: alice, Balance: 65}}
	if d := lb.JSON200; !reflect.DeepEqual(d.Top, want) || d.Caller == nil || *d.Caller != want[1] {
		t.Fatalf("leaderboard: %s", lb.Body)
	}

	// A squad (admin), joined by alice (with an Idempotency-Key) and bob.
	sq, err := admin.CreateSquadWithResponse(ctx, guild, apiclient.CreateSquadInputBody{Name: "Gophers", RoleID: role})
	if err != nil {
		t.Fatal(err)
	}
	status("create squad", sq.HTTPResponse, sq.Body, http.StatusCreated, sq.JSON201 != nil)
	squad := sq.JSON201
	if squad.ID == "" || squad.Name != "Gophers" || squad.RoleID != role || squad.Members != 0 || !squad.Active ||
		sq.HTTPResponse.Header.Get("Location") != "/api/v1/guilds/"+guild+"/squads/"+squad.ID {
		t.Fatalf("created squad: %+v, Location %q", squad, sq.HTTPResponse.Header.Get("Location"))
	}
	for _, user := range []string{alice, bob} {
		key := "join-" + user
		j, err := c.JoinSquadWithResponse(ctx, guild, squad.ID, &apiclient.JoinSquadParams{IdempotencyKey: &key}, apiclient.UserBody{UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		status("join squad", j.HTTPResponse, j.Body, http.StatusOK, j.JSON200 != nil)
		if d := j.JSON200; d.Squad.ID != squad.ID || d.Cost != 0 || d.From != nil || d.Account.UserID != user {
			t.Fatalf("join %s: %+v", user, d)
		}
	}
	var members []string
	cursor, pages = nil, 0
	for {
		limit := int64(1)
		page, err := c.ListSquadMembersWithResponse(ctx, guild, squad.ID, &apiclient.ListSquadMembersParams{Cursor: cursor, Limit: &limit})
		if err != nil {
			t.Fatal(err)
		}
		status("list members", page.HTTPResponse, page.Body, http.StatusOK, page.JSON200 != nil)
		pages++
		if page.JSON200.Squad.ID != squad.ID || page.JSON200.Squad.Members != 2 {
			t.Fatalf("members page squad: %+v", page.JSON200.Squad)
		}
		for _, m := range page.JSON200.Items {
			members = append(members, m.UserID)
		}
		if cursor = page.JSON200.NextCursor; cursor == nil || pages > 5 {
			break
		}
	}
	slices.Sort(members)
	if !slices.Equal(members, []string{alice, bob}) {
		t.Fatalf("members over %d pages: %v", pages, members)
	}

	// Typed problems: an unknown member, no key, an overdraft.
	missing, err := c.GetBalanceWithResponse(ctx, guild, nobody)
	if err != nil {
		t.Fatal(err)
	}
	status("unknown member's balance", missing.HTTPResponse, missing.Body, http.StatusNotFound, missing.ApplicationProblemJSON404 != nil)
	if p := missing.ApplicationProblemJSON404; p.Status != http.StatusNotFound || p.Code == nil || *p.Code != "not_found" || p.RequestID == nil || *p.RequestID == "" {
		t.Fatalf("404 problem: %s", missing.Body)
	}
	unauth, err := anon.GetBalanceWithResponse(ctx, guild, alice)
	if err != nil {
		t.Fatal(err)
	}
	status("no key", unauth.HTTPResponse, unauth.Body, http.StatusUnauthorized, unauth.ApplicationProblemJSON401 != nil)
	if p := unauth.ApplicationProblemJSON401; p.Code == nil || *p.Code != "unauthenticated" || unauth.HTTPResponse.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("401 problem: %s", unauth.Body)
	}
	over, err := c.CreateTransferWithResponse(ctx, guild, nil, apiclient.TransferInputBody{GiverID: alice, ReceiverID: carol, Amount: 200})
	if err != nil {
		t.Fatal(err)
	}
	status("overdraft", over.HTTPResponse, over.Body, http.StatusUnprocessableEntity, over.ApplicationProblemJSON422 != nil)
	if p := over.ApplicationProblemJSON422; p.Code == nil || *p.Code != "refused" || p.Balance == nil || *p.Balance != 65 ||
		p.Needed == nil || *p.Needed != 200 || p.Detail == nil || !strings.Contains(*p.Detail, "insufficient funds") {
		t.Fatalf("422 problem: %s", over.Body)
	}
	// A status the operation does not list (400, a body that is not JSON) is
	// still a typed problem, through the document's default response.
	bad, err := c.CreateTransferWithBodyWithResponse(ctx, guild, nil, "application/json", strings.NewReader(`{"giver_id":`))
	if err != nil {
		t.Fatal(err)
	}
	status("unreadable body", bad.HTTPResponse, bad.Body, http.StatusBadRequest, bad.ApplicationProblemJSONDefault != nil)
	if p := bad.ApplicationProblemJSONDefault; p.Status != http.StatusBadRequest || p.Code == nil || *p.Code != "invalid" {
		t.Fatalf("400 problem: %s", bad.Body)
	}
	// The refusal moved nothing and opened no account for carol.
	if b, err := c.GetBalanceWithResponse(ctx, guild, alice); err != nil || b.JSON200 == nil || b.JSON200.Balance != 65 {
		t.Fatalf("alice after the overdraft: %v %+v", err, b)
	}
	if b, err := c.GetBalanceWithResponse(ctx, guild, carol); err != nil || b.ApplicationProblemJSON404 == nil {
		t.Fatalf("carol after the overdraft: %v %+v", err, b)
	}
}

func ptr[T any](v T) *T { return &v }
