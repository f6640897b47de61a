package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// installTracing makes an in-memory exporter the process's tracing until
// the test ends.
func installTracing(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	telemetry.Install(tp)
	t.Cleanup(func() {
		telemetry.Uninstall()
		_ = tp.Shutdown(context.Background())
	})
	return exp
}

// spanSet indexes exported spans by id, to walk from a span to its root.
type spanSet struct {
	all  tracetest.SpanStubs
	byID map[trace.SpanID]*tracetest.SpanStub
}

func spansOf(exp *tracetest.InMemoryExporter) spanSet {
	s := spanSet{all: exp.GetSpans(), byID: map[trace.SpanID]*tracetest.SpanStub{}}
	for i := range s.all {
		s.byID[s.all[i].SpanContext.SpanID()] = &s.all[i]
	}
	return s
}

// first is the first span whose name starts with prefix and that ok accepts.
func (s spanSet) first(prefix string, ok func(*tracetest.SpanStub) bool) *tracetest.SpanStub {
	for i := range s.all {
		if strings.HasPrefix(s.all[i].Name, prefix) && (ok == nil || ok(&s.all[i])) {
			return &s.all[i]
		}
	}
	return nil
}

// root follows sp's parents; nil while one of them is not exported yet.
func (s spanSet) root(sp *tracetest.SpanStub) *tracetest.SpanStub {
	for sp != nil && sp.Parent.IsValid() {
		sp = s.byID[sp.Parent.SpanID()]
	}
	return sp
}

// descends reports whether sp has ancestor among its parents.
func (s spanSet) descends(sp, ancestor *tracetest.SpanStub) bool {
	for sp != nil && sp.Parent.IsValid() {
		if sp.Parent.SpanID() == ancestor.SpanContext.SpanID() {
			return true
		}
		sp = s.byID[sp.Parent.SpanID()]
	}
	return false
}

// descendant is the first span named with prefix below ancestor.
func (s spanSet) descendant(ancestor *tracetest.SpanStub, prefix string) *tracetest.SpanStub {
	return s.first(prefix, func(sp *tracetest.SpanStub) bool { return s.descends(sp, ancestor) })
}

func (s spanSet) names() string {
	var b strings.Builder
	for _, sp := range s.all {
		fmt.Fprintf(&b, "\n  %s trace=%s span=%s parent=%s", sp.Name, sp.SpanContext.TraceID(), sp.SpanContext.SpanID(), sp.Parent.SpanID())
	}
	return b.String()
}

func attrOf(sp *tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, a := range sp.Attributes {
		if string(a.Key) == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// line returns the first JSON log line whose msg is msg.
func (b *lockedBuffer) line(msg string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range strings.Lines(b.b.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// checkGatewaySpan checks a dispatch span's name, kind and attributes.
func checkGatewaySpan(t *testing.T, sp *tracetest.SpanStub, event string, guild emulator.ID) {
	t.Helper()
	if sp.Name != "gateway "+event || sp.SpanKind != trace.SpanKindConsumer {
		t.Errorf("root span %q (%s), want gateway %s (consumer)", sp.Name, sp.SpanKind, event)
	}
	if v, _ := attrOf(sp, "discord.gateway.event"); v.AsString() != event {
		t.Errorf("discord.gateway.event = %q, want %s", v.AsString(), event)
	}
	if v, _ := attrOf(sp, "discord.guild.id"); v.AsString() != guild.String() {
		t.Errorf("discord.guild.id = %q, want %s", v.AsString(), guild)
	}
	if v, ok := attrOf(sp, "discord.gateway.shard_id"); !ok || v.Type() != attribute.INT64 || v.AsInt64() < 0 || v.AsInt64() > 1 {
		t.Errorf("discord.gateway.shard_id = %v (%v), want shard 0 or 1", v.String(), ok)
	}
	if v, ok := attrOf(sp, "discord.gateway.sequence"); !ok || v.AsInt64() <= 0 {
		t.Errorf("discord.gateway.sequence = %v (%v), want the dispatch's sequence number", v.String(), ok)
	}
}

// A gateway event starts a trace that holds the work it causes: a member's
// first message of the day (the daily claim's queries and the reward
// reaction), a message that breaks an automod rule (the case's queries, its
// outbox job and the worker's Discord calls), a slash command (its queries
// and its answer); the bot's log lines of that work carry the trace id.
func TestGatewayEventSpans(t *testing.T) {
	exp := installTracing(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		exp.Reset()
		logs := &lockedBuffer{}
		e := newQuietEmulator(t)
		r := startRigLogged(t, e, db, metrics.InstrumentBus(memBus(t)), logging.New(logs, logging.Options{Format: "json"}))
		runModActions(t, r)
		waitReady(t, e, 2, r.bot)
		gary := r.d.Members["gopher_gary"]

		// The daily reward: the reaction's REST span and the claim's
		// queries descend from the message's dispatch.
		msg, err := e.Say(r.d.GuildID, r.d.General, gary, "good morning")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the reward reaction", func() bool { return messageReactions(e, r.d.General, msg) == 1 })
		var s spanSet
		var react, root *tracetest.SpanStub
		eventually(t, "the reaction's span and its root", func() bool {
			s = spansOf(exp)
			react = s.first("discord PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me", nil)
			root = s.root(react)
			return root != nil
		})
		checkGatewaySpan(t, root, "MESSAGE_CREATE", r.d.GuildID)
		if react.SpanKind != trace.SpanKindClient || react.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("reaction span %+v not a client span of the message's trace", react)
		}
		claim := s.descendant(root, "bot.DailyClaim")
		if claim == nil || !s.descends(react, claim) {
			t.Errorf("no bot.DailyClaim span holding the reaction under the message's dispatch:%s", s.names())
		}
		if q := s.descendant(root, "ClaimDaily"); q == nil || q.SpanKind != trace.SpanKindClient {
			t.Errorf("no ClaimDaily query span under the message's dispatch:%s", s.names())
		} else if v, _ := attrOf(q, "db.system.name"); v.AsString() == "" {
			t.Errorf("query span without db.system.name: %+v", q.Attributes)
		}
		paid := logs.line("daily reward paid")
		if paid == nil || paid["trace_id"] != root.SpanContext.TraceID().String() {
			t.Errorf("the claim's log line %v does not carry the trace id %s", paid, root.SpanContext.TraceID())
		}

		// Automod: the case, its outbox job and the worker's handling of it
		// are one trace from the message's dispatch.
		r.rule(t, automod.Rule{Name: "no executables", Kind: automod.KindAttachment, Extensions: []string{"exe"},
			Action: automod.ActionWarn, Reason: "Executables are not allowed here"})
		_, err = e.Post(r.d.GuildID, r.d.General, emulator.MessageSpec{UserID: gary, Content: "try this",
			Attachments: []emulator.AttachmentSpec{{Filename: "evil.exe", Size: 1000}}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the warning DM", func() bool { return len(dmTexts(e, gary)) == 1 })
		var consumer, dm *tracetest.SpanStub
		eventually(t, "the worker's spans and their root", func() bool {
			s = spansOf(exp)
			consumer = s.first(jobs.QueueModeration+" process", nil)
			if consumer == nil {
				return false
			}
			dm = s.descendant(consumer, "discord POST /channels/{id}/messages")
			root = s.root(consumer)
			return dm != nil && root != nil
		})
		checkGatewaySpan(t, root, "MESSAGE_CREATE", r.d.GuildID)
		kase := s.descendant(root, "bot.AutomodCase")
		if kase == nil || !s.descends(consumer, kase) {
			t.Fatalf("the moderation job's consumer span does not descend from a bot.AutomodCase span:%s", s.names())
		}
		if v, _ := attrOf(kase, "automod.rule"); v.AsString() != "no executables" {
			t.Errorf("automod.rule = %q", v.AsString())
		}
		if s.descendant(kase, "InsertOutbox") == nil {
			t.Errorf("no InsertOutbox query span under the case:%s", s.names())
		}
		opened := logs.line("automod: case opened")
		if opened == nil || opened["trace_id"] != root.SpanContext.TraceID().String() {
			t.Errorf("the case's log line %v does not carry the trace id %s", opened, root.SpanContext.TraceID())
		}
		if msg := s.first("gateway MESSAGE_CREATE", func(sp *tracetest.SpanStub) bool {
			return sp.SpanContext.TraceID() == root.SpanContext.TraceID() && sp.SpanContext.SpanID() != root.SpanContext.SpanID()
		}); msg != nil {
			t.Errorf("two dispatches in one trace: %s", s.names())
		}

		// A slash command: its queries and its answer descend from the
		// interaction's dispatch.
		r.command(t, gary, "bytes read")
		var callback *tracetest.SpanStub
		eventually(t, "the interaction's spans and their root", func() bool {
			s = spansOf(exp)
			callback = s.first("discord POST /interactions/{id}/{token}/callback", nil)
			root = s.root(callback)
			return root != nil
		})
		checkGatewaySpan(t, root, "INTERACTION_CREATE", r.d.GuildID)
		handled := s.descendant(root, "bot.Interaction")
		if handled == nil || !s.descends(callback, handled) {
			t.Fatalf("the answer does not descend from a bot.Interaction span:%s", s.names())
		}
		if v, _ := attrOf(handled, "discord.command"); v.AsString() != "bytes" {
			t.Errorf("discord.command = %q, want bytes", v.AsString())
		}
		if q := s.first("", func(sp *tracetest.SpanStub) bool {
			v, ok := attrOf(sp, "db.system.name")
			return ok && v.AsString() != "" && s.descends(sp, handled)
		}); q == nil {
			t.Errorf("no query span under the command:%s", s.names())
		}
	})
}
