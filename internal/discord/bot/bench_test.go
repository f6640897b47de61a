package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/disgoorg/disgo"
	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/bot/handlers"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// messageCreate is a MESSAGE_CREATE frame as the gateway sends it.
var messageCreate = []byte(`{"op":0,"s":42,"t":"MESSAGE_CREATE","d":{"id":"1300000000000000042","channel_id":"1200000000000000003",
"guild_id":"1100000000000000001","author":{"id":"1000000000000000777","username":"alice","global_name":"Alice","avatar":null,"discriminator":"0"},
"member":{"roles":["1300000000000000001","1300000000000000002"],"joined_at":"2026-01-01T00:00:00Z","nick":null,"deaf":false,"mute":false,"flags":0},
"content":"message number 7 with some words in it","timestamp":"2026-05-01T12:00:00.000000+00:00","edited_timestamp":null,
"tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],"embeds":[],"pinned":false,"type":0}}`)

// BenchmarkDecodeMessageCreate is the reference: decoding the frame, which
// every bot does for every message.
func BenchmarkDecodeMessageCreate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var m gateway.Message
		if err := json.Unmarshal(messageCreate, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageCreateRewarded is the bot's path for a member already
// rewarded today (most messages of a day): decode, then the daily-reward
// handler, which must answer from memory without touching the database.
func BenchmarkMessageCreateRewarded(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	bt := New(Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	k := memberKey{guild: 1100000000000000001, user: 1000000000000000777}
	day := economy.DayOf(now)
	bt.daily.begin(k, day)
	bt.daily.finish(k, day, true)
	b.ReportAllocs()
	for b.Loop() {
		var m gateway.Message
		if err := json.Unmarshal(messageCreate, &m); err != nil {
			b.Fatal(err)
		}
		d := m.D.(gateway.EventMessageCreate)
		e := &events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
			GenericEvent: events.NewGenericEvent(nil, m.S, 0), MessageID: d.ID, Message: d.Message,
			ChannelID: d.ChannelID, GuildID: snowflake.ID(k.guild),
		}}
		bt.onMessage(e)
		bt.onAutomodMessage(e)
	}
	if len(bt.claims) != 0 {
		b.Fatal("a rewarded member started a claim")
	}
}

// BenchmarkMessageCreateRewardedParallel runs the same path on every core,
// as a process's shards do (each shard has its own goroutine).
func BenchmarkMessageCreateRewardedParallel(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	bt := New(Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	k := memberKey{guild: 1100000000000000001, user: 1000000000000000777}
	day := economy.DayOf(now)
	bt.daily.begin(k, day)
	bt.daily.finish(k, day, true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var m gateway.Message
			if err := json.Unmarshal(messageCreate, &m); err != nil {
				b.Error(err)
				return
			}
			d := m.D.(gateway.EventMessageCreate)
			bt.onMessage(&events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
				GenericEvent: events.NewGenericEvent(nil, m.S, 0), MessageID: d.ID, Message: d.Message,
				ChannelID: d.ChannelID, GuildID: snowflake.ID(k.guild),
			}})
		}
	})
}

// BenchmarkMessageCreateAutomod is the bot's message path (decode, daily
// reward from memory, automod) without automod and with 20 rules, in the
// same run (issue 5's reference).
func BenchmarkMessageCreateAutomod(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := storetest.Open(b, store.SQLite)
	mb := bus.NewMemory()
	defer mb.Close()
	mod := moderation.NewService(db, mb, moderation.Options{})
	ctx := context.Background()
	const guild = 1100000000000000001
	for i := range 5 {
		for _, r := range []automod.Rule{
			{Name: fmt.Sprint("rate", i), Kind: automod.KindMessageRate, Enabled: true, Count: 10 + i, WindowSeconds: 5 + i, Action: automod.ActionTimeout, TimeoutSeconds: 60},
			{Name: fmt.Sprint("dup", i), Kind: automod.KindDuplicate, Enabled: true, Count: 50, WindowSeconds: 30, Action: automod.ActionDelete},
			{Name: fmt.Sprint("spread", i), Kind: automod.KindChannelSpread, Enabled: true, Count: 5 + i, WindowSeconds: 20, Action: automod.ActionWarn},
			{Name: fmt.Sprint("files", i), Kind: automod.KindAttachment, Enabled: true, Extensions: []string{"exe", "scr"}, Action: automod.ActionWarn},
		} {
			if _, err := mod.CreateRule(ctx, guild, 1, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	client, err := disgo.New(emulator.Token(1), dbot.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mod  *moderation.Service
	}{{"without automod", nil}, {"with 20 rules", mod}} {
		b.Run(c.name, func(b *testing.B) {
			bt := New(Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }, Moderation: c.mod})
			k := memberKey{guild: guild, user: 1000000000000000777}
			day := economy.DayOf(now)
			bt.daily.begin(k, day)
			bt.daily.finish(k, day, true)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var m gateway.Message
				if err := json.Unmarshal(messageCreate, &m); err != nil {
					b.Fatal(err)
				}
				d := m.D.(gateway.EventMessageCreate)
				// Messages a second apart: no rule fires, as for ordinary talk.
				d.Message.CreatedAt = now.Add(time.Duration(i) * time.Second)
				e := &events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
					GenericEvent: events.NewGenericEvent(client, m.S, 0), MessageID: d.ID, Message: d.Message,
					ChannelID: d.ChannelID, GuildID: snowflake.ID(k.guild),
				}}
				bt.onMessage(e)
				bt.onAutomodMessage(e)
			}
		})
	}
}

// BenchmarkGatewayInstrumentation measures what the gateway instrumentation
// costs (issue 6): the same MESSAGE_CREATE frames, from members already
// rewarded today, go through disgo's dispatch path as a shard hands them
// over (decoded as disgo's transport does, then the client's event manager,
// its gateway event handler and the bot's listeners), in one run:
//
//   - off: the bot's client with disgo's own gateway event handlers (no
//     metrics wrapper), tracing not installed, logs discarded;
//   - on: the client as production builds it (observe.go's handlers, which
//     count each dispatch, keep the shard's state and, with tracing on,
//     make it the shard's current dispatch for its listeners), the
//     Prometheus metrics registered, tracing installed with the SDK provider
//     production uses (every span sampled, batched to an exporter that drops
//     them, as OTLP's would send them), logs at info as JSON to io.Discard.
//     These messages start no work, so no span is started (trace.go).
//
// The automod variants add 20 rules that ordinary talk does not trigger.
func BenchmarkGatewayInstrumentation(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const guild = 1100000000000000001
	e := emulator.NewTest(b) // answers GET /gateway/bot when the client is built; no shard connects
	db := storetest.Open(b, store.SQLite)
	mb := bus.NewMemory()
	defer mb.Close()
	mod := moderation.NewService(db, mb, moderation.Options{})
	for i := range 5 {
		for _, r := range []automod.Rule{
			{Name: fmt.Sprint("rate", i), Kind: automod.KindMessageRate, Enabled: true, Count: 10 + i, WindowSeconds: 5 + i, Action: automod.ActionTimeout, TimeoutSeconds: 60},
			{Name: fmt.Sprint("dup", i), Kind: automod.KindDuplicate, Enabled: true, Count: 50, WindowSeconds: 30, Action: automod.ActionDelete},
			{Name: fmt.Sprint("spread", i), Kind: automod.KindChannelSpread, Enabled: true, Count: 5 + i, WindowSeconds: 20, Action: automod.ActionWarn},
			{Name: fmt.Sprint("files", i), Kind: automod.KindAttachment, Enabled: true, Extensions: []string{"exe", "scr"}, Action: automod.ActionWarn},
		} {
			if _, err := mod.CreateRule(context.Background(), guild, 1, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Messages a second apart across every run, so that the evaluator the
	// automod variants share never sees time go back: no rule fires, as for
	// ordinary talk.
	at := now
	for _, c := range []struct {
		name string
		on   bool
		mod  *moderation.Service
	}{{"off", false, nil}, {"on", true, nil}, {"automod-off", false, mod}, {"automod-on", true, mod}} {
		b.Run(c.name, func(b *testing.B) {
			log := slog.New(slog.DiscardHandler)
			exported := &discardSpans{}
			counted := testutil.ToFloat64(metrics.GatewayEvents.WithLabelValues("MESSAGE_CREATE"))
			heard := 0
			eventHandlers := dbot.WithEventManagerConfigOpts(dbot.WithGatewayHandlers(handlers.GetGatewayHandlers())) // disgo's own
			if c.on {
				log = logging.New(io.Discard, logging.Options{Format: "json", Level: slog.LevelInfo})
				metrics.NewRegistry(metrics.BuildInfo{})
				tp := telemetry.NewProvider(exported, telemetry.Options{Role: "bot"})
				telemetry.Install(tp)
				b.Cleanup(func() { telemetry.Uninstall(); _ = tp.Shutdown(context.Background()) })
			}
			bt := New(Options{Token: e.BotToken(), APIURL: e.APIURL(), Logger: log, Now: func() time.Time { return now }, Moderation: c.mod})
			if c.on {
				eventHandlers = bt.gw.eventHandlers() // as build does
			}
			client, err := bt.newClient(eventHandlers)
			if err != nil {
				b.Fatal(err)
			}
			// One more listener, to check that the bot's listeners are reached.
			client.EventManager.AddEventListeners(dbot.NewListenerFunc(func(*events.GuildMessageCreate) { heard++ }))
			defer client.Close(context.Background())
			k := memberKey{guild: guild, user: 1000000000000000777}
			day := economy.DayOf(now)
			bt.daily.begin(k, day)
			bt.daily.finish(k, day, true)
			// The shard: what disgo's read loop hands each dispatch to
			// (gateway.go, listen: eventHandlerFunc(g, t, s, data)).
			shard := gateway.New(e.BotToken(), client.EventManager.HandleGatewayEvent,
				gateway.WithShardID(0), gateway.WithShardCount(1), gateway.WithLogger(client.Logger))
			shardLog := client.Logger.With(slog.String("name", "gateway"), slog.Int("shard_id", 0), slog.Int("shard_count", 1))
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			for i := 0; b.Loop(); i++ {
				m, err := decodeFrame(shardLog, messageCreate)
				if err != nil {
					b.Fatal(err)
				}
				d := m.D.(gateway.EventMessageCreate)
				at = at.Add(time.Second)
				d.CreatedAt = at
				m.S = i + 1
				client.EventManager.HandleGatewayEvent(shard, m.T, m.S, d)
			}
			b.StopTimer()
			if cpu1, ok := processCPU(); ok && cpuOK {
				// The process's CPU time per event (the span batcher and the
				// GC included): steadier than ns/op on a busy machine.
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			bt.work.Wait()
			if len(bt.claims) != 0 {
				b.Fatal("a rewarded member started a claim")
			}
			if cases, err := mod.Cases(context.Background(), guild, moderation.Filter{}); err != nil || len(cases) != 0 {
				b.Fatalf("automod opened %d cases (%v): the messages are not ordinary talk", len(cases), err)
			}
			// The path measured is the one meant: every event reached the
			// listeners; with instrumentation on, each was counted and went
			// through the traced dispatch, which exports a span only when a
			// listener starts work (trace.go): at most the automod variant's
			// first message, which loads the guild's rules.
			events := testutil.ToFloat64(metrics.GatewayEvents.WithLabelValues("MESSAGE_CREATE")) - counted
			bt.gw.dispatches.mu.Lock()
			traced := bt.gw.dispatches.cur != nil
			bt.gw.dispatches.mu.Unlock()
			if c.on {
				_ = otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background())
			}
			if heard == 0 || c.on != traced || c.on && int(events) != heard || !c.on && events != 0 || exported.dispatches.Load() > 1 {
				b.Fatalf("%d events heard, %.0f counted, traced %v, %d dispatch spans exported", heard, events, traced, exported.dispatches.Load())
			}
		})
	}
}

// decodeFrame decodes a frame as disgo v0.19.6's websocket transport does
// (gateway_transports.go, parseMessage): when the shard's logger takes debug
// records, which the fence's always does (disgo.go), it keeps a copy of the
// frame for a "received gateway message" record.
func decodeFrame(log *slog.Logger, frame []byte) (*gateway.Message, error) {
	var r io.Reader = bytes.NewReader(frame)
	if log.Enabled(context.Background(), slog.LevelDebug) {
		buff := new(bytes.Buffer)
		r = io.TeeReader(r, buff)
		defer func() {
			if buff.Len() > 0 {
				log.Debug("received gateway message", slog.String("data", buff.String()))
			}
		}()
	}
	var m gateway.Message
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// discardSpans is a span exporter that drops what the batch processor
// sends, counting the dispatch spans.
type discardSpans struct{ dispatches atomic.Int64 }

func (d *discardSpans) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		if strings.HasPrefix(s.Name(), "gateway ") {
			d.dispatches.Add(1)
		}
	}
	return nil
}
func (*discardSpans) Shutdown(context.Context) error { return nil }
