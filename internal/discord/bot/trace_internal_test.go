package bot

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/gateway"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// A dispatch costs no allocation with tracing off, nor with tracing on when
// no listener asks for its span (no span is exported then); when one asks,
// the span starts backdated to the dispatch's start, the listeners find it
// by shard and sequence number while the dispatch is handled, and only then,
// and it ends with the dispatch.
func TestDispatchSpan(t *testing.T) {
	var m gateway.Message
	if err := json.Unmarshal(messageCreate, &m); err != nil {
		t.Fatal(err)
	}
	var ev gateway.EventData = m.D.(gateway.EventMessageCreate) // as disgo's read loop hands it over
	stats := newGatewayStats()
	b := &Bot{gw: stats}
	ref := &eventRef{shard: 1, seq: m.S}
	var seen []bool
	const handling = 5 * time.Millisecond // before the listener asks
	inner := dbot.NewGatewayEventHandler(gateway.EventTypeMessageCreate, func(_ *dbot.Client, seq, shard int, _ gateway.EventMessageCreate) {
		if seen == nil {
			time.Sleep(handling)
		}
		first := b.eventSpan(ref)
		again := b.eventSpan(ref) // the same span, not a second one
		seen = append(seen[:0], first != nil && again != nil)
	})
	h := &observedHandler{inner: inner, stats: stats}

	telemetry.Uninstall()
	h.HandleGatewayEvent(nil, m.S, 1, ev) // creates the counter's series
	if allocs := testing.AllocsPerRun(200, func() { h.HandleGatewayEvent(nil, m.S, 1, ev) }); allocs != 0 {
		t.Errorf("an untraced dispatch allocates %.1f times, want 0", allocs)
	}
	if len(seen) != 1 || seen[0] {
		t.Errorf("untraced dispatch: listener saw a span: %v", seen)
	}

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	telemetry.Install(tp)
	t.Cleanup(func() { telemetry.Uninstall(); _ = tp.Shutdown(context.Background()) })

	// Nobody asks (a message that starts no work): no span, no allocation.
	quiet := &observedHandler{inner: dbot.NewGatewayEventHandler(gateway.EventTypeMessageCreate,
		func(*dbot.Client, int, int, gateway.EventMessageCreate) {}), stats: stats}
	quiet.HandleGatewayEvent(nil, m.S, 1, ev)
	if allocs := testing.AllocsPerRun(200, func() { quiet.HandleGatewayEvent(nil, m.S, 1, ev) }); allocs != 0 {
		t.Errorf("a traced dispatch nobody asks about allocates %.1f times, want 0", allocs)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans for dispatches nobody asked about, want none", n)
	}

	seen = nil
	h.HandleGatewayEvent(nil, m.S, 1, ev)
	if len(seen) != 1 || !seen[0] {
		t.Errorf("traced dispatch: listener found no span")
	}
	if sp := b.eventSpan(ref); sp != nil {
		t.Errorf("the span is still found after the dispatch")
	}
	if sp := b.eventSpan(&eventRef{shard: 0, seq: m.S}); sp != nil {
		t.Errorf("another shard's event found the span")
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "gateway MESSAGE_CREATE" || spans[0].EndTime.IsZero() {
		t.Fatalf("spans %v, want one ended gateway MESSAGE_CREATE", spans)
	}
	if d := spans[0].EndTime.Sub(spans[0].StartTime); d < handling {
		t.Errorf("the span lasted %s, want it from the dispatch's start (at least %s)", d, handling)
	}
	want := map[string]string{attrShard: "1", attrEvent: "MESSAGE_CREATE", attrSequence: "42", attrGuild: "1100000000000000001"}
	got := map[string]string{}
	for _, a := range spans[0].Attributes {
		got[string(a.Key)] = a.Value.String()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got[k], v)
		}
	}

	// Heartbeat ACKs are not dispatches: no span.
	ack := &observedHandler{inner: dbot.NewGatewayEventHandler(gateway.EventTypeHeartbeatAck,
		func(*dbot.Client, int, int, gateway.EventHeartbeatAck) {}), stats: stats}
	ack.HandleGatewayEvent(nil, 0, 1, gateway.EventHeartbeatAck{})
	if n := len(exp.GetSpans()); n != 1 {
		t.Errorf("%d spans after a heartbeat ACK, want still 1", n)
	}
}

type eventRef struct{ shard, seq int }

func (e *eventRef) ShardID() int        { return e.shard }
func (e *eventRef) SequenceNumber() int { return e.seq }
