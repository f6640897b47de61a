package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/disgoorg/disgo"
	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// Midnight burst (issue 3): right after 00:00 UTC, burstMembers distinct
// members each send their first message of the day. Every frame is decoded
// and goes through the bot's message path (daily tracker, bounded claims,
// economy service, one statement on PostgreSQL); the reference, in the same
// run on the same server and table, is pgbench's single-row UPDATE of an
// account with as many clients as the bot's database pool has connections.
const (
	burstMembers     = 100_000
	burstNewFraction = 5 // one member in 5 has no account yet
	burstConcurrency = 16
	burstGuild       = 1100000000000000001
	refGuild         = 1100000000000000002 // pgbench's rows: same table, its own guild
)

// BenchmarkMidnightBurst runs once whatever -benchtime says:
//
//	SMARTERDEV_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run XXX -bench MidnightBurst -benchtime 1x ./internal/discord/bot
func BenchmarkMidnightBurst(b *testing.B) {
	if _, err := exec.LookPath("pgbench"); err != nil {
		b.Skip("pgbench is not installed")
	}
	dbURL := storetest.URL(b, store.Postgres) // skips without PostgreSQL
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{MaxConns: burstConcurrency})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(dbURL)
	schema := u.Query().Get("search_path")
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	baseURL := u.String()

	midnight := time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	today, yesterday := economy.DayOf(midnight), economy.DayOf(midnight.Add(-time.Hour))
	mb := bus.NewMemory()
	defer mb.Close()
	econ := economy.NewService(db, mb, economy.Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return midnight.Add(5 * time.Second) }})
	cfg := economy.DefaultConfig()
	cfg.DailyFeedback = economy.FeedbackNone // Discord's answer is not what is measured
	if _, err := econ.UpdateConfig(ctx, burstGuild, 1, cfg); err != nil {
		b.Fatal(err)
	}
	// Four members in five have an account and yesterday's reward, with
	// streaks across every tier; the rest are new. pgbench's guild gets the
	// same number of accounts.
	for _, g := range []int64{burstGuild, refGuild} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO accounts (guild_id, user_id, balance, streak, last_daily, created_at, updated_at)
			SELECT $1::bigint, i, 100 + i % 1000, 1 + i % 70, $2, now(), now() FROM generate_series(1, $3::bigint) AS i
			WHERE $1::bigint = $4::bigint OR i % $5::bigint <> 0`, g, string(yesterday), burstMembers, refGuild, burstNewFraction); err != nil {
			b.Fatal(err)
		}
		// Their ledgers, so that every balance still equals its ledger.
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO ledger (guild_id, user_id, kind, delta, balance_after, created_at)
			SELECT guild_id, user_id, 'open', balance, balance, now() FROM accounts WHERE guild_id = $1`, g); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, "ANALYZE accounts; ANALYZE ledger"); err != nil {
		b.Fatal(err)
	}

	script := filepath.Join(b.TempDir(), "update.sql")
	if err := os.WriteFile(script, fmt.Appendf(nil, "\\set id random(1, %d)\nUPDATE %s.accounts SET balance = balance + 1, updated_at = now() WHERE guild_id = %d AND user_id = :id;\n",
		burstMembers, schema, refGuild), 0o600); err != nil {
		b.Fatal(err)
	}

	frames := make([][]byte, burstMembers)
	for i := range frames {
		frames[i] = burstFrame(i + 1)
	}
	client, err := disgo.New(emulator.Token(1), dbot.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	feed := func(bt *Bot) time.Duration {
		start := time.Now()
		for _, f := range frames {
			var m gateway.Message
			if err := json.Unmarshal(f, &m); err != nil {
				b.Fatal(err)
			}
			d := m.D.(gateway.EventMessageCreate)
			bt.onMessage(&events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
				GenericEvent: events.NewGenericEvent(client, m.S, 0), MessageID: d.ID, Message: d.Message,
				ChannelID: d.ChannelID, GuildID: snowflake.ID(burstGuild),
			}})
		}
		bt.work.Wait()
		return time.Since(start)
	}
	newBot := func() *Bot { // claims in flight: the bot's default
		return New(Options{Economy: econ, Logger: slog.New(slog.DiscardHandler),
			Now: func() time.Time { return midnight.Add(5 * time.Second) }})
	}

	ref1 := pgbenchUpdates(b, baseURL, script)
	b.ResetTimer()
	bt := newBot()
	took := feed(bt)
	b.StopTimer()
	ref2 := pgbenchUpdates(b, baseURL, script)

	// Exactly once: every member has one reward for today, and the process
	// that paid them, then another process seeing the same messages, pay
	// nobody twice.
	checkRewards := func(when string) {
		var rows, members int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT user_id) FROM ledger
			WHERE guild_id = $1 AND kind = 'daily' AND day = $2`, burstGuild, string(today)).Scan(&rows, &members); err != nil {
			b.Fatal(err)
		}
		if rows != burstMembers || members != burstMembers {
			b.Fatalf("%s: %d daily rewards for %d members, want %d each", when, rows, members, burstMembers)
		}
	}
	checkRewards("after the burst")
	feed(bt)
	replayTook := feed(newBot())
	checkRewards("after replaying the burst in this and another process")
	var bad int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM accounts a WHERE guild_id = $1 AND balance <>
		(SELECT sum(delta) FROM ledger l WHERE l.guild_id = a.guild_id AND l.user_id = a.user_id)`, burstGuild).Scan(&bad); err != nil {
		b.Fatal(err)
	}
	if bad != 0 {
		b.Fatalf("%d balances differ from their ledger", bad)
	}

	rate := burstMembers / took.Seconds()
	ref := max(ref1, ref2)
	b.ReportMetric(rate, "rewards/s")
	b.ReportMetric(ref, "pgbench-updates/s")
	b.ReportMetric(rate/ref, "ratio")
	b.ReportMetric(burstMembers/replayTook.Seconds(), "replayed-claims/s")
	b.Logf("%d first messages rewarded in %s: %.0f rewards/s; pgbench single-row UPDATE %.0f and %.0f tx/s (%d clients); ratio %.2f (target >= 0.8)",
		burstMembers, took.Round(time.Millisecond), rate, ref1, ref2, burstConcurrency, rate/ref)
}

// burstFrame is member i's first message of the day as the gateway sends it.
func burstFrame(i int) []byte {
	return fmt.Appendf(nil, `{"op":0,"s":%[1]d,"t":"MESSAGE_CREATE","d":{"id":"%[2]d","channel_id":"1200000000000000003",
"guild_id":"%[3]d","author":{"id":"%[1]d","username":"member%[1]d","global_name":null,"avatar":null,"discriminator":"0"},
"member":{"roles":[],"joined_at":"2026-01-01T00:00:00Z","nick":null,"deaf":false,"mute":false,"flags":0},
"content":"good morning","timestamp":"2026-05-02T00:00:05.000000+00:00","edited_timestamp":null,
"tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],"embeds":[],"pinned":false,"type":0}}`,
		i, 1300000000000000000+i, burstGuild)
}

var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+)`)

// pgbenchUpdates is pgbench's rate for the single-row update script.
func pgbenchUpdates(b *testing.B, dbURL, script string) float64 {
	b.Helper()
	out, err := exec.Command("pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(burstConcurrency), "-j", "2",
		"-T", "10", "-f", script, dbURL).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := pgbenchTPS.FindSubmatch(out)
	if m == nil {
		b.Fatalf("pgbench printed no tps:\n%s", out)
	}
	tps, err := strconv.ParseFloat(string(bytes.TrimSpace(m[1])), 64)
	if err != nil {
		b.Fatal(err)
	}
	return tps
}
