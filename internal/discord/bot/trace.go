package bot

import (
	"context"
	"sync"
	"time"

	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// Gateway event spans (docs/observability.md, "Traces"). With tracing on,
// observedHandler (observe.go) records each dispatch that disgo handles as
// its shard's current one; disgo then calls the bot's listeners on the same
// goroutine, before the handler returns. A listener that starts work (a
// daily claim, an automod case, a slash command) or loads a guild's rules
// asks for the dispatch's span by its event's shard and sequence number
// (disgo's events carry no context): the "gateway <TYPE>" span starts then,
// backdated to the dispatch's start, and ends with the dispatch. That work's
// database queries, Discord REST calls and outbox jobs are its descendants,
// and its log lines carry its trace id. A dispatch nobody asks about (most
// messages: a member already rewarded today, talk no rule flags) exports no
// span and costs no allocation: a span per dispatch would cost more than the
// issue 6 budget of 5 % of the gateway path (docs/PERFORMANCE.md).
//
// With tracing off (telemetry.Enabled false) none of this runs: no span, no
// lock, no allocation on the gateway path.

// Span attributes of a gateway dispatch.
const (
	attrShard    = "discord.gateway.shard_id"
	attrEvent    = "discord.gateway.event"
	attrSequence = "discord.gateway.sequence"
	attrGuild    = "discord.guild.id"
)

// dispatches are the gateway dispatches being handled, one per shard at most
// (a shard handles its events one at a time).
type dispatches struct {
	mu  sync.Mutex
	cur map[int]dispatch // by shard
}

type dispatch struct {
	t     gateway.EventType
	seq   int
	ev    gateway.EventData
	start time.Time
	span  trace.Span // nil until a listener asks for it
}

// begin makes a dispatch the shard's current one, without a span yet.
func (d *dispatches) begin(t gateway.EventType, seq, shard int, ev gateway.EventData, start time.Time) {
	d.mu.Lock()
	if d.cur == nil {
		d.cur = map[int]dispatch{}
	}
	d.cur[shard] = dispatch{t: t, seq: seq, ev: ev, start: start}
	d.mu.Unlock()
}

// end ends the dispatch's span, if one was started, once disgo's handler
// (and with it every listener) returned.
func (d *dispatches) end(shard, seq int) {
	d.mu.Lock()
	c, ok := d.cur[shard]
	if ok && c.seq == seq {
		delete(d.cur, shard)
	}
	d.mu.Unlock()
	if ok && c.seq == seq && c.span != nil {
		c.span.End()
	}
}

// span returns the span of the shard's dispatch with sequence number seq,
// starting it on the first call, or nil when that is not the one being
// handled. Only the shard's goroutine calls it for its dispatch.
func (d *dispatches) span(shard, seq int) trace.Span {
	d.mu.Lock()
	c, ok := d.cur[shard]
	d.mu.Unlock()
	if !ok || c.seq != seq {
		return nil
	}
	if c.span != nil {
		return c.span
	}
	attrs := []attribute.KeyValue{attribute.Int(attrShard, shard), attribute.String(attrEvent, string(c.t)), attribute.Int(attrSequence, seq)}
	if g, ok := guildOf(c.ev); ok {
		attrs = append(attrs, attribute.String(attrGuild, g.String()))
	}
	_, span := otel.Tracer(tracerName).Start(context.Background(), "gateway "+string(c.t),
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...), trace.WithTimestamp(c.start))
	d.mu.Lock()
	cur, ok := d.cur[shard]
	current := ok && cur.seq == seq
	if current {
		cur.span = span
		d.cur[shard] = cur
	}
	d.mu.Unlock()
	if !current { // the dispatch ended meanwhile: not asked on the shard's goroutine
		span.End()
		return nil
	}
	return span
}

// traced hands a dispatch to disgo's handler as the shard's current one, so
// that its listeners can ask for its span.
func (h *observedHandler) traced(c *dbot.Client, seq, shard int, ev gateway.EventData, start time.Time) {
	h.stats.dispatches.begin(h.inner.EventType(), seq, shard, ev, start)
	defer h.stats.dispatches.end(shard, seq)
	h.inner.HandleGatewayEvent(c, seq, shard, ev)
}

// gatewayEvent is what the bot's listeners know of the dispatch that
// delivered their event (every disgo gateway event has it).
type gatewayEvent interface {
	ShardID() int
	SequenceNumber() int
}

// eventSpan is the span of the dispatch that delivered e, started by the
// first call (listeners ask only when the event starts work); nil when
// tracing is off or e was not delivered by a traced dispatch (benchmarks
// call the listeners directly).
func (b *Bot) eventSpan(e gatewayEvent) trace.Span {
	if !telemetry.Enabled() {
		return nil
	}
	return b.gw.dispatches.span(e.ShardID(), e.SequenceNumber())
}

// eventContext is the context of work an event starts off the shard's
// goroutine: Run's context without its cancellation (the work finishes on
// shutdown; Run waits for it), carrying the event's span, so that the work's
// spans are its children and its log lines (logged with the *Context
// methods) carry its trace id.
func (b *Bot) eventContext(span trace.Span) context.Context {
	ctx := context.WithoutCancel(b.runCtx())
	if span != nil {
		ctx = trace.ContextWithSpan(ctx, span)
	}
	return ctx
}

// startWork starts a span for work an event started (nothing when the event
// is not traced).
func startWork(ctx context.Context, parent trace.Span, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if parent == nil {
		return ctx, nil
	}
	return otel.Tracer(tracerName).Start(ctx, name, trace.WithAttributes(attrs...))
}

// endWork ends a span of startWork, recording err.
func endWork(span trace.Span, err error) {
	if span == nil {
		return
	}
	telemetry.RecordError(span, err)
	span.End()
}

// interactionAttrs describe an interaction on its span: its type and, for
// a slash command, the command's name (never its options: they can hold
// anything a member typed).
func interactionAttrs(in discord.Interaction) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.Int("discord.interaction.type", int(in.Type()))}
	if ac, ok := in.(discord.ApplicationCommandInteraction); ok && ac.Data != nil {
		attrs = append(attrs, attribute.String("discord.command", ac.Data.CommandName()))
	}
	return attrs
}

// guildOf is the guild a dispatch concerns, when it names one.
func guildOf(ev gateway.EventData) (snowflake.ID, bool) {
	opt := func(id *snowflake.ID) (snowflake.ID, bool) {
		if id == nil {
			return 0, false
		}
		return *id, true
	}
	switch e := ev.(type) {
	case gateway.EventMessageCreate:
		return opt(e.GuildID)
	case gateway.EventMessageUpdate:
		return opt(e.GuildID)
	case gateway.EventMessageDelete:
		return opt(e.GuildID)
	case gateway.EventMessageDeleteBulk:
		return opt(e.GuildID)
	case gateway.EventInteractionCreate:
		if e.Interaction == nil {
			return 0, false
		}
		return opt(e.GuildID())
	case gateway.EventGuildMemberAdd:
		return e.GuildID, true
	case gateway.EventGuildMemberUpdate:
		return e.GuildID, true
	case gateway.EventGuildMemberRemove:
		return e.GuildID, true
	case gateway.EventGuildCreate:
		return e.ID, true
	case gateway.EventGuildUpdate:
		return e.ID, true
	case gateway.EventGuildDelete:
		return e.ID, true
	case gateway.EventGuildRoleCreate:
		return e.GuildID, true
	case gateway.EventGuildRoleUpdate:
		return e.GuildID, true
	case gateway.EventGuildRoleDelete:
		return e.GuildID, true
	case gateway.EventGuildBanAdd:
		return e.GuildID, true
	case gateway.EventGuildBanRemove:
		return e.GuildID, true
	case gateway.EventChannelCreate:
		if e.GuildChannel == nil {
			return 0, false
		}
		return e.GuildID(), true
	case gateway.EventChannelUpdate:
		if e.GuildChannel == nil {
			return 0, false
		}
		return e.GuildID(), true
	case gateway.EventChannelDelete:
		if e.GuildChannel == nil {
			return 0, false
		}
		return e.GuildID(), true
	}
	return 0, false
}
