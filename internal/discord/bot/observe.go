package bot

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/bot/handlers"
	"github.com/disgoorg/disgo/gateway"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// This file feeds the gateway metrics (internal/metrics) and keeps the shard
// states that the bot's heartbeat reports (internal/botstatus):
//
//   - events by type: disgo's gateway event handlers are wrapped, so every
//     dispatch is counted once under its "t" (a bounded set: the dispatch
//     types disgo knows; it drops the others before any handler);
//   - reconnects (a READY after a shard's first) and resumes (RESUMED);
//   - heartbeat latency: from disgo's "sending heartbeat" log record (seen
//     by fenceHandler, which knows the shard from the logger's attributes)
//     to the ACK event. disgo's own Latency() reads fields its heartbeat
//     goroutine writes without a lock, which the race detector reports;
//   - shard connected: each shard's status, polled every second;
//   - with tracing on, a span for each dispatch whose listeners start work
//     (trace.go).

// shardWatchInterval is how often the shard connected gauge is refreshed.
const shardWatchInterval = time.Second

// gatewayStats is one Bot's view of its shards.
type gatewayStats struct {
	mu        sync.Mutex
	shards    map[int]*shardStats
	lastEvent time.Time

	dispatches dispatches // spans of the dispatches being handled (trace.go)
}

type shardStats struct {
	readies, resumes int
	seq              int // of the last dispatch handled
	lastEvent        time.Time
	heartbeatSent    time.Time
	ackedAt          time.Time
	latency          time.Duration
	status           gateway.Status
	// sending counts disgo's internal sends (heartbeat, identify, resume)
	// on the shard that have not returned; sent closes when it drops to 0.
	sending int
	sent    chan struct{}
}

func newGatewayStats() *gatewayStats { return &gatewayStats{shards: map[int]*shardStats{}} }

func (g *gatewayStats) shard(id int) *shardStats {
	s := g.shards[id]
	if s == nil {
		s = &shardStats{}
		g.shards[id] = s
	}
	return s
}

func shardLabel(id int) string { return strconv.Itoa(id) }

// heartbeatSent is called by fenceHandler when disgo logs "sending heartbeat".
func (g *gatewayStats) heartbeatSent(shard int, at time.Time) {
	g.mu.Lock()
	g.shard(shard).heartbeatSent = at
	g.mu.Unlock()
}

// Heartbeat ACKs and disgo v0.19.6. disgo's heartbeat goroutine writes a
// heartbeat, returns from its rate limiter, and only then records the time
// it sent it (lastHeartbeatSent); its read loop records the time of each ACK
// (lastHeartbeatReceived). At the next tick, a send time after the ACK time
// means "ACK of last heartbeat not received, connection went zombie": disgo
// drops the connection and resumes. An ACK handled in the microseconds
// between the write and that record is taken for a missing one. Discord's
// ACK takes a network round trip; the emulator's, on loopback, often does
// not (in `make run`, with the sandbox's 1 s heartbeat: a zombie reconnect
// every few seconds on each shard).
//
// So, built without -race, the read loop holds an ACK (fenceHandler, on
// disgo's "received gateway message" record, before disgo handles it) until
// the shard's internal sends have returned (sendTracker, below): the send
// time is then recorded before the ACK time. Under -race this cannot be
// had: disgo reads the ACK time on the heartbeat goroutine with nothing
// ordering it after the read loop's write, unless the ACK is handled before
// the heartbeat goroutine's last log record (waitAcks), which is before the
// send time: race-free for the detector, and a zombie at the next tick
// (docs/emulator.md).

// ackOrderWait bounds how long awaitSends holds disgo's read loop; a send
// returns microseconds after its write, so this is only a safety net.
const ackOrderWait = time.Second

// sendStarted and sendDone bracket one of disgo's internal sends on shard
// (sendTracker).
func (g *gatewayStats) sendStarted(shard int) {
	g.mu.Lock()
	s := g.shard(shard)
	if s.sending == 0 {
		s.sent = make(chan struct{})
	}
	s.sending++
	g.mu.Unlock()
}

func (g *gatewayStats) sendDone(shard int) {
	g.mu.Lock()
	s := g.shard(shard)
	s.sending--
	if s.sending == 0 {
		close(s.sent)
	}
	g.mu.Unlock()
}

// awaitSends runs on shard's read loop before disgo handles a heartbeat
// ACK: it waits, at most ackOrderWait, until the shard's internal sends have
// returned, so that disgo has recorded the heartbeat's send time.
func (g *gatewayStats) awaitSends(shard int) {
	g.mu.Lock()
	s := g.shard(shard)
	if s.sending == 0 {
		g.mu.Unlock()
		return
	}
	sent := s.sent
	g.mu.Unlock()
	t := time.NewTimer(ackOrderWait)
	defer t.Stop()
	select {
	case <-sent:
	case <-t.C:
	}
}

// sendTracker is one shard's gateway rate limiter (disgo's own inside): it
// reports disgo's internal sends (heartbeat, identify, resume) to stats
// from their Wait until their context is cancelled, which disgo does when
// the sending function returns, after it recorded a heartbeat's send time.
type sendTracker struct {
	gateway.RateLimiter
	stats *gatewayStats
	shard int // set before the gateway opens
}

func (l *sendTracker) Wait(ctx context.Context, typ gateway.RateLimiterCommandType) error {
	if typ == gateway.InternalCommandType {
		l.stats.sendStarted(l.shard)
		context.AfterFunc(ctx, func() { l.stats.sendDone(l.shard) })
	}
	return l.RateLimiter.Wait(ctx, typ)
}

// createGateway is disgo's gateway.New with a sendTracker as the rate
// limiter; limiter makes the rate limiter inside.
func (g *gatewayStats) createGateway(limiter func() gateway.RateLimiter) gateway.CreateFunc {
	return func(token string, handler gateway.EventHandlerFunc, opts ...gateway.ConfigOpt) gateway.Gateway {
		l := &sendTracker{RateLimiter: limiter(), stats: g}
		gw := gateway.New(token, handler, append(opts, gateway.WithRateLimiter(l))...)
		l.shard = gw.ShardID()
		return gw
	}
}

// ackWait bounds how long waitAcks holds disgo's heartbeat goroutine.
const ackWait = 5 * time.Millisecond

// waitAcks, under -race only, runs when disgo's gateway rate limiter is
// unlocked after a send (fenceHandler): when that was a heartbeat, it waits
// at most ackWait for the ACK to be handled. disgo v0.19.6 writes the ACK
// time on its read loop and reads it on the heartbeat goroutine at the next
// tick with nothing in between to order the two, which the race detector
// reports. Waiting here makes the ACK's handling (under g.mu) happen before
// the heartbeat goroutine's next tick; but also before disgo records the
// send time, so disgo takes that ACK for a missing one at the next tick
// (see above). Against Discord, whose ACK takes longer, the wait just ends.
func (g *gatewayStats) waitAcks() {
	deadline := time.Now().Add(ackWait)
	for {
		g.mu.Lock()
		pending := false
		for _, s := range g.shards {
			pending = pending || (!s.heartbeatSent.IsZero() && s.ackedAt.Before(s.heartbeatSent) && time.Since(s.heartbeatSent) < ackWait)
		}
		g.mu.Unlock()
		if !pending || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// observe runs on the shard's goroutine before disgo handles the event; it
// returns the time it saw the event.
func (g *gatewayStats) observe(shard, seq int, ev gateway.EventData) time.Time {
	now := time.Now()
	g.mu.Lock()
	s := g.shard(shard)
	switch ev.(type) {
	case gateway.EventHeartbeatAck:
		sent := s.heartbeatSent
		s.ackedAt = now
		if !sent.IsZero() {
			s.latency = now.Sub(sent)
		}
		g.mu.Unlock()
		if !sent.IsZero() {
			metrics.HeartbeatLatency.WithLabelValues(shardLabel(shard)).Set(now.Sub(sent).Seconds())
		}
		return now
	case gateway.EventReady:
		s.readies++
		s.status = gateway.StatusReady
		if s.readies > 1 {
			metrics.GatewayReconnects.WithLabelValues(shardLabel(shard)).Inc()
		}
		metrics.ShardConnected.WithLabelValues(shardLabel(shard)).Set(1)
	case gateway.EventResumed:
		s.resumes++
		s.status = gateway.StatusReady
		metrics.GatewayResumes.WithLabelValues(shardLabel(shard)).Inc()
		metrics.ShardConnected.WithLabelValues(shardLabel(shard)).Set(1)
	}
	s.seq = seq
	s.lastEvent = now
	g.lastEvent = now
	g.mu.Unlock()
	return now
}

// observedHandler counts a dispatch and hands it to disgo's handler.
type observedHandler struct {
	inner  dbot.GatewayEventHandler
	stats  *gatewayStats
	once   sync.Once
	events prometheus.Counter // created on the first event, so unseen types add no series
}

func (h *observedHandler) EventType() gateway.EventType { return h.inner.EventType() }

func (h *observedHandler) HandleGatewayEvent(c *dbot.Client, seq int, shard int, ev gateway.EventData) {
	t := h.inner.EventType()
	at := h.stats.observe(shard, seq, ev)
	if t != gateway.EventTypeHeartbeatAck {
		h.once.Do(func() { h.events = metrics.GatewayEvents.WithLabelValues(string(t)) })
		h.events.Inc()
		if telemetry.Enabled() {
			h.traced(c, seq, shard, ev, at) // its span, when a listener asks for it (trace.go)
			return
		}
	}
	h.inner.HandleGatewayEvent(c, seq, shard, ev)
}

// eventHandlers are disgo's gateway event handlers, each wrapped by observe.
func (g *gatewayStats) eventHandlers() dbot.ConfigOpt {
	hs := handlers.GetGatewayHandlers()
	for t, h := range hs {
		if t == gateway.EventTypeRaw {
			continue // not a dispatch; off unless raw events are enabled
		}
		hs[t] = &observedHandler{inner: h, stats: g}
	}
	return dbot.WithEventManagerConfigOpts(dbot.WithGatewayHandlers(hs))
}

// watch refreshes the shard connected gauge and the shard states every
// second until ctx ends, then reports the shards disconnected.
func (g *gatewayStats) watch(ctx context.Context, client *dbot.Client) {
	t := time.NewTicker(shardWatchInterval)
	defer t.Stop()
	for {
		g.poll(client, false)
		select {
		case <-ctx.Done():
			g.poll(client, true)
			return
		case <-t.C:
		}
	}
}

func (g *gatewayStats) poll(client *dbot.Client, stopped bool) {
	type st struct {
		id     int
		status gateway.Status
	}
	var all []st
	for s := range client.ShardManager.Shards() {
		status := s.Status() // under disgo's status lock
		if stopped {
			status = gateway.StatusDisconnected
		}
		all = append(all, st{s.ShardID(), status})
	}
	g.mu.Lock()
	for _, s := range all {
		g.shard(s.id).status = s.status
	}
	g.mu.Unlock()
	for _, s := range all {
		v := 0.0
		if s.status == gateway.StatusReady {
			v = 1
		}
		metrics.ShardConnected.WithLabelValues(shardLabel(s.id)).Set(v)
	}
}

// ShardStatus is one shard as the bot sees it.
type ShardStatus struct {
	ID         int
	Status     string // disgo's gateway status: ready, resuming, disconnected, ...
	Connected  bool
	Latency    time.Duration // last heartbeat round trip
	Reconnects int           // new sessions after the first
	Resumes    int
	LastEvent  time.Time
	Seq        int // the sequence number of the last dispatch handled
}

// Status is what the bot's heartbeat reports.
type Status struct {
	StartedAt  time.Time
	LastEvent  time.Time // last gateway dispatch on any shard
	ShardCount int
	Shards     []ShardStatus // by id
}

// Status reports the shards of this process.
func (b *Bot) Status() Status {
	st := Status{StartedAt: b.started}
	b.mu.Lock()
	client := b.client
	b.mu.Unlock()
	if client != nil {
		for s := range client.ShardManager.Shards() {
			st.ShardCount = s.ShardCount()
			break
		}
	}
	g := b.gw
	g.mu.Lock()
	defer g.mu.Unlock()
	st.LastEvent = g.lastEvent
	for id, s := range g.shards {
		status := s.status
		st.Shards = append(st.Shards, ShardStatus{ID: id, Status: strings.ToLower(status.String()), Connected: status == gateway.StatusReady,
			Latency: s.latency, Reconnects: max(s.readies-1, 0), Resumes: s.resumes, LastEvent: s.lastEvent, Seq: s.seq})
	}
	sort.Slice(st.Shards, func(i, j int) bool { return st.Shards[i].ID < st.Shards[j].ID })
	return st
}
