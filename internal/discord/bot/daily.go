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

	"github.com/smarterdev/smarterdev/internal/economy"
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
	b.claims <- struct{}{}
	b.work.Go(func() {
		defer func() { <-b.claims }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(b.runCtx()), 30*time.Second)
		defer cancel()
		rewarded := b.claimDaily(ctx, rs, k, member, m)
		b.daily.finish(k, day, rewarded)
	})
}

// claimDaily claims and acknowledges; it reports whether the member counts
// as rewarded today (paid now, or already paid).
func (b *Bot) claimDaily(ctx context.Context, rs rest.Rest, k memberKey, member economy.Member, m discord.Message) bool {
	res, err := b.o.Economy.ClaimDaily(ctx, k.guild, member)
	var claimed *economy.AlreadyClaimedError
	if errors.As(err, &claimed) {
		return true
	}
	if err != nil {
		b.log.Error("daily reward failed; the member's next message retries", "guild_id", k.guild, "user_id", k.user, "err", err)
		return false
	}
	b.log.Info("daily reward paid", "guild_id", k.guild, "user_id", k.user, "amount", res.Amount, "streak", res.Streak, "multiplier", res.Multiplier)
	cfg, err := b.o.Economy.Config(ctx, k.guild)
	if err != nil {
		b.log.Warn("daily reward paid but not acknowledged: config unavailable", "err", err)
		return true
	}
	switch cfg.DailyFeedback {
	case economy.FeedbackReply:
		ref := &discord.MessageReference{MessageID: &m.ID, ChannelID: &m.ChannelID, FailIfNotExists: false}
		_, err = rs.CreateMessage(m.ChannelID, discord.MessageCreate{
			Content:          dailyText(res),
			MessageReference: ref,
			AllowedMentions:  &discord.AllowedMentions{RepliedUser: false},
		}, rest.WithCtx(ctx))
	case economy.FeedbackNone:
	default:
		err = rs.AddReaction(m.ChannelID, m.ID, RewardEmoji, rest.WithCtx(ctx))
	}
	if err != nil {
		b.log.Warn("daily reward paid but not acknowledged in Discord", "guild_id", k.guild, "user_id", k.user, "err", err)
	}
	return true
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
