package bot

import (
	"context"
	"time"

	"github.com/disgoorg/disgo/cache"
	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/snowflake/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// Auto-moderation on the gateway path: every guild message and member join
// is evaluated at once on the shard's goroutine (the guild's evaluator lives
// in memory; the moderation service reloads it only after a rule change), and
// each verdict opens one case on its own goroutine, bounded, so a raid
// neither blocks the shard nor delays the daily reward. The case's action
// leaves through the outbox for the worker (internal/modactions).

// modPerms are the permissions that make a member a moderator for automod.
const modPerms = discord.PermissionAdministrator | discord.PermissionManageGuild | discord.PermissionModerateMembers |
	discord.PermissionKickMembers | discord.PermissionBanMembers | discord.PermissionManageMessages

// evaluatorTimeout bounds loading a guild's rules after a change (a
// database read); an evaluation itself takes microseconds.
const evaluatorTimeout = 2 * time.Second

// onAutomodMessage evaluates a guild message against the guild's rules.
func (b *Bot) onAutomodMessage(e *events.GuildMessageCreate) {
	if b.o.Moderation == nil {
		return
	}
	m := e.Message
	if m.Author.Bot || m.Author.System || m.WebhookID != nil {
		return
	}
	g := b.evaluator(e, e.GuildID)
	if g == nil {
		return
	}
	author := automod.Member{ID: int64(m.Author.ID), Username: m.Author.Username, DisplayName: displayName(m.Member, m.Author),
		HasAvatar: m.Author.Avatar != nil, CreatedAt: m.Author.ID.Time()}
	if m.Member != nil {
		author.Roles = ids(m.Member.RoleIDs)
		author.Moderator = isModerator(e.Client().Caches, e.GuildID, m.Author.ID, m.Member.RoleIDs)
	}
	at := m.CreatedAt
	if at.IsZero() {
		at = b.o.Now()
	}
	msg := automod.Message{ID: int64(m.ID), ChannelID: int64(m.ChannelID), Author: author, Content: m.Content, At: at}
	for _, a := range m.Attachments {
		msg.Attachments = append(msg.Attachments, a.Filename)
	}
	for _, v := range g.OnMessage(msg) {
		b.openCase(b.eventSpan(e), int64(e.GuildID), author, v, int64(m.ChannelID), int64(m.ID))
	}
}

// onMemberJoin evaluates the username rules for a member who just joined.
func (b *Bot) onMemberJoin(e *events.GuildMemberJoin) {
	b.fence.pass()
	if b.o.Moderation == nil {
		return
	}
	u := e.Member.User
	if u.Bot || u.System {
		return
	}
	g := b.evaluator(e, e.GuildID)
	if g == nil {
		return
	}
	mem := e.Member
	joiner := automod.Member{ID: int64(u.ID), Username: u.Username, DisplayName: displayName(&mem, u), Roles: ids(mem.RoleIDs),
		HasAvatar: u.Avatar != nil, CreatedAt: u.ID.Time(),
		Moderator: isModerator(e.Client().Caches, e.GuildID, u.ID, mem.RoleIDs)}
	for _, v := range g.OnJoin(joiner, b.o.Now()) {
		b.openCase(b.eventSpan(e), int64(e.GuildID), joiner, v, 0, 0)
	}
}

// evaluator returns the guild's evaluator, or nil (logged) when its rules
// cannot be loaded: automod then lets the event pass rather than stall.
// Loading them is part of the event's trace.
func (b *Bot) evaluator(e gatewayEvent, guild snowflake.ID) *automod.Guild {
	if g, ok := b.o.Moderation.Current(int64(guild)); ok {
		return g
	}
	ctx, cancel := context.WithTimeout(b.eventContext(b.eventSpan(e)), evaluatorTimeout)
	defer cancel()
	g, err := b.o.Moderation.Evaluator(ctx, int64(guild))
	if err != nil {
		b.log.ErrorContext(ctx, "automod: rules unavailable; event not evaluated", "guild_id", int64(guild), "err", err)
		return nil
	}
	return g
}

// openCase opens the verdict's case off the shard's goroutine, in the
// trace of the event (span, nil when untraced): its queries and the outbox
// job of its action are descendants. The target is always the author or
// joiner of the event that was evaluated.
func (b *Bot) openCase(span trace.Span, guild int64, target automod.Member, v automod.Verdict, channel, message int64) {
	rule := v.Rule
	in := moderation.Input{TargetID: target.ID, TargetName: target.DisplayName, Action: v.Action, Rule: &rule,
		Reason: v.Reason, Duration: rule.Timeout(), DeleteMessage: v.DeleteMessage}
	if in.TargetName == "" {
		in.TargetName = target.Username
	}
	if message != 0 {
		in.ChannelID, in.MessageID = channel, message
	}
	if v.Action != automod.ActionTimeout {
		in.Duration = 0
	}
	b.cases.enter()
	b.work.Go(func() {
		b.cases.start()
		defer b.cases.done()
		ctx, cancel := context.WithTimeout(b.eventContext(span), 30*time.Second)
		defer cancel()
		ctx, work := startWork(ctx, span, "bot.AutomodCase",
			attribute.String("automod.rule", rule.Name), attribute.String("automod.action", string(v.Action)))
		opened, err := b.o.Moderation.Open(ctx, guild, in)
		endWork(work, err)
		if err != nil {
			b.log.ErrorContext(ctx, "automod: case not opened; the action is not taken", "guild_id", guild, "user_id", target.ID,
				"rule", rule.Name, "action", v.Action, "err", err)
			return
		}
		b.log.InfoContext(ctx, "automod: case opened", "guild_id", guild, "user_id", target.ID, "case", opened.Case.Number,
			"rule", rule.Name, "action", v.Action)
	})
}

// caseQueue bounds the cases being opened (database work) without holding
// up the shard: a verdict waits for a slot on its own goroutine. Only when
// maxPendingCases verdicts already wait (a raid far beyond any real one)
// does the shard wait too, so memory stays bounded.
type caseQueue struct {
	slots   chan struct{}
	pending chan struct{}
}

const maxPendingCases = 10000

func newCaseQueue(concurrency int) *caseQueue {
	return &caseQueue{slots: make(chan struct{}, concurrency), pending: make(chan struct{}, maxPendingCases)}
}

func (q *caseQueue) enter() { q.pending <- struct{}{} } // on the shard's goroutine
func (q *caseQueue) start() { q.slots <- struct{}{} }
func (q *caseQueue) done()  { <-q.slots; <-q.pending }

// isModerator computes the member's guild permissions from the roles in
// disgo's cache (the @everyone role has the guild's id; the owner has all).
func isModerator(c cache.Caches, guild, user snowflake.ID, roles []snowflake.ID) bool {
	if g, ok := c.Guild(guild); ok && g.OwnerID == user {
		return true
	}
	var perms discord.Permissions
	if r, ok := c.Role(guild, guild); ok {
		perms |= r.Permissions
	}
	for _, id := range roles {
		if r, ok := c.Role(guild, id); ok {
			perms |= r.Permissions
		}
	}
	return perms&modPerms != 0
}

func ids(s []snowflake.ID) []int64 {
	out := make([]int64, len(s))
	for i, id := range s {
		out[i] = int64(id)
	}
	return out
}
