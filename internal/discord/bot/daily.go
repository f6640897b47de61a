package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/rest"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// RewardEmoji is the reaction on a member's first message of the day.
const RewardEmoji = "🪙"

// dailyTracker remembers, for the current UTC day only, the members this
// process has seen rewarded (or refused as already rewarded), so their
// further messages cost no database round trip; and the claims in flight, so
// a burst of messages from one member makes one claim. The database stays
// the arbiter across shards and processes.
type dailyTracker struct {
	mu       sync.Mutex
	day      economy.Day
	done     map[memberKey]struct{}
	inflight map[memberKey]struct{}
}

type memberKey struct{ guild, user int64 }

func newDailyTracker() *dailyTracker {
	return &dailyTracker{done: map[memberKey]struct{}{}, inflight: map[memberKey]struct{}{}}
}

// begin reports whether a claim should be made for k on day; when it says
// yes, the caller must call finish.
func (t *dailyTracker) begin(k memberKey, day economy.Day) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if day != t.day {
		if day < t.day {
			return false // a clock step back: the day's claims were made
		}
		t.day = day
		t.done = map[memberKey]struct{}{} // previous days are evicted at once
	}
	if _, ok := t.done[k]; ok {
		return false
	}
	if _, ok := t.inflight[k]; ok {
		return false
	}
	t.inflight[k] = struct{}{}
	return true
}

func (t *dailyTracker) finish(k memberKey, day economy.Day, rewarded bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.inflight, k)
	if rewarded && day == t.day {
		t.done[k] = struct{}{}
	}
}

// onMessage pays the daily reward on a member's first message of the UTC
// day in a guild. Members already rewarded are answered from memory, on
// the shard's goroutine; a claim runs on its own, bounded.
func (b *Bot) onMessage(e *events.GuildMessageCreate) {
	b.fence.pass()
	m := e.Message
	if m.Author.Bot || m.Author.System || m.WebhookID != nil {
		return
	}
	k := memberKey{guild: int64(e.GuildID), user: int64(m.Author.ID)}
	now := b.o.Now().UTC()
	day := economy.DayOf(now)
	if !b.daily.begin(k, day) {
		return
	}
	member := economy.Member{ID: k.user, Name: displayName(m.Member, m.Author)}
	rs := e.Client().Rest
	span := b.eventSpan(e) // the claim belongs to the message's trace (trace.go)
	b.claims <- struct{}{}
	b.work.Go(func() {
		release := sync.OnceFunc(func() { <-b.claims })
		defer release()
		ctx, cancel := context.WithTimeout(b.eventContext(span), 30*time.Second)
		defer cancel()
		ctx, claim := startWork(ctx, span, "bot.DailyClaim")
		res, paid, rewarded := b.claimDaily(ctx, k, member)
		b.daily.finish(k, day, rewarded)
		// The claim's slot is free before Discord is asked anything: a
		// channel's reaction rate limit must not hold back other claims.
		release()
		if paid {
			b.acknowledge(ctx, rs, k, res, m)
		}
		endWork(claim, nil)
	})
}

// claimDaily claims; rewarded reports whether the member counts as rewarded
// today (paid now, or already paid), paid whether it was paid now.
func (b *Bot) claimDaily(ctx context.Context, k memberKey, member economy.Member) (res economy.DailyResult, paid, rewarded bool) {
	res, err := b.o.Economy.ClaimDaily(ctx, k.guild, member)
	var claimed *economy.AlreadyClaimedError
	if errors.As(err, &claimed) {
		return res, false, true
	}
	if err != nil {
		telemetry.RecordError(trace.SpanFromContext(ctx), err)
		b.log.ErrorContext(ctx, "daily reward failed; the member's next message retries", "guild_id", k.guild, "user_id", k.user, "err", err)
		return res, false, false
	}
	b.log.InfoContext(ctx, "daily reward paid", "guild_id", k.guild, "user_id", k.user, "amount", res.Amount, "streak", res.Streak, "multiplier", res.Multiplier)
	return res, true, true
}

// maxAcksInFlight bounds acknowledgements waiting on Discord. Reactions in
// one channel are rate limited to a few per second, so in a burst most
// would wait out their deadline anyway; beyond the bound the reward stays
// paid (and visible in /bytes) and its acknowledgement is shed, counted in
// smarterdev_bot_daily_acks_total{outcome="shed"}.
const maxAcksInFlight = 1024

// acknowledge shows the member their reward as the guild configures it.
func (b *Bot) acknowledge(ctx context.Context, rs rest.Rest, k memberKey, res economy.DailyResult, m discord.Message) {
	cfg, err := b.o.Economy.Config(ctx, k.guild)
	if err != nil {
		b.log.WarnContext(ctx, "daily reward paid but not acknowledged: config unavailable", "err", err)
		metrics.DailyAcks.WithLabelValues("failed").Inc()
		return
	}
	if cfg.DailyFeedback == economy.FeedbackNone {
		return
	}
	select {
	case b.acks <- struct{}{}:
		defer func() { <-b.acks }()
	default:
		metrics.DailyAcks.WithLabelValues("shed").Inc()
		b.log.DebugContext(ctx, "daily reward paid; acknowledgement shed (too many waiting on Discord)", "guild_id", k.guild, "user_id", k.user)
		return
	}
	switch cfg.DailyFeedback {
	case economy.FeedbackReply:
		ref := &discord.MessageReference{MessageID: &m.ID, ChannelID: &m.ChannelID, FailIfNotExists: false}
		_, err = rs.CreateMessage(m.ChannelID, discord.MessageCreate{
			Content:          dailyText(res),
			MessageReference: ref,
			AllowedMentions:  &discord.AllowedMentions{RepliedUser: false},
		}, rest.WithCtx(ctx))
	default:
		err = rs.AddReaction(m.ChannelID, m.ID, RewardEmoji, rest.WithCtx(ctx))
	}
	if err != nil {
		metrics.DailyAcks.WithLabelValues("failed").Inc()
		b.log.WarnContext(ctx, "daily reward paid but not acknowledged in Discord", "guild_id", k.guild, "user_id", k.user, "err", err)
		return
	}
	metrics.DailyAcks.WithLabelValues("sent").Inc()
}

// dailyText is the short reply: amount, streak and multiplier with its tier.
func dailyText(r economy.DailyResult) string {
	s := fmt.Sprintf("%s +%d bytes for today · streak %d day", RewardEmoji, r.Amount, r.Streak)
	if r.Streak != 1 {
		s += "s"
	}
	if r.Multiplier > 1 {
		s += fmt.Sprintf(" · x%d", r.Multiplier)
		if r.Tier != "" {
			s += " " + r.Tier
		}
	}
	return s + fmt.Sprintf(" · balance %d", r.Account.Balance)
}
