// Package bot holds the Discord gateway shards: it registers the slash
// commands, answers interactions through the commands package and pays the
// daily reward on each member's first message of the UTC day.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/disgoorg/disgo"
	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/cache"
	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/disgo/sharding"
	"github.com/disgoorg/snowflake/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/discord/commands"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// Intents are the only gateway intents the bot asks for.
const Intents = gateway.IntentGuilds | gateway.IntentGuildMembers | gateway.IntentGuildMessages | gateway.IntentMessageContent

// Options configure a Bot.
type Options struct {
	Token      string
	APIURL     string // REST base including /api/v10; empty: Discord's
	GatewayURL string // empty: what GET /gateway/bot answers
	// GuildID scopes the command registration to one guild; 0 registers globally.
	GuildID int64
	// ShardIDs run by this process (empty: all of 0..ShardCount-1) and the
	// total; ShardCount 0 takes Discord's recommendation.
	ShardIDs   []int
	ShardCount int
	Router     *commands.Router
	Economy    *economy.Service
	Logger     *slog.Logger
	Now        func() time.Time
	// StartGrace is how long Ready reports success while shards connect; default 60 s.
	StartGrace time.Duration
	// ClaimConcurrency bounds daily claims in flight; default 128. Claims
	// waiting together are paid by one statement on PostgreSQL (economy), so
	// a midnight burst needs many in flight, not many connections.
	ClaimConcurrency int
	// Moderation evaluates automod rules on messages and joins and opens
	// their cases (automod.go); nil turns automod off.
	Moderation *moderation.Service
	// CaseConcurrency bounds concurrent automod cases being opened; default 8.
	CaseConcurrency int
}

// Bot is a set of gateway shards with their event handling.
type Bot struct {
	o       Options
	log     *slog.Logger
	fence   *fence
	daily   *dailyTracker
	claims  chan struct{}
	acks    chan struct{} // daily-reward acknowledgements waiting on Discord
	cases   *caseQueue    // automod cases being opened (automod.go)
	started time.Time
	work    sync.WaitGroup
	gw      *gatewayStats // shard states and gateway metrics (observe.go)

	mu     sync.Mutex
	client *dbot.Client
	ctx    context.Context // Run's context, for work started by events
}

// New returns a Bot; Run connects it.
func New(o Options) *Bot {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StartGrace <= 0 {
		o.StartGrace = 60 * time.Second
	}
	if o.ClaimConcurrency <= 0 {
		o.ClaimConcurrency = 128
	}
	if o.CaseConcurrency <= 0 {
		o.CaseConcurrency = 8
	}
	return &Bot{o: o, log: o.Logger, fence: &fence{}, daily: newDailyTracker(), claims: make(chan struct{}, o.ClaimConcurrency),
		acks:    make(chan struct{}, maxAcksInFlight),
		cases:   newCaseQueue(o.CaseConcurrency),
		started: time.Now(), gw: newGatewayStats()}
}

// Run registers the commands, opens the shards and serves events until ctx
// ends; then it closes the shards and waits for work in progress.
func (b *Bot) Run(ctx context.Context) error {
	client, err := b.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	watched := make(chan struct{})
	go func() { defer close(watched); b.gw.watch(ctx, client) }()
	defer func() { <-watched }()
	<-ctx.Done()
	// disgo v0.19.6 races if it closes a shard whose heartbeat goroutine has
	// not sent its first heartbeat yet (docs/emulator.md): give it a moment.
	shards := 0
	for range client.ShardManager.Shards() {
		shards++
	}
	for deadline := time.Now().Add(3 * time.Second); b.fence.heartbeats.Load() < int64(shards) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.fence.pass()
	client.Close(closeCtx)
	b.work.Wait()
	return nil
}

// connect builds the client (retrying while Discord cannot be reached),
// registers the commands and opens the shards.
func (b *Bot) connect(ctx context.Context) (*dbot.Client, error) {
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	var client *dbot.Client
	for attempt := 1; ; attempt++ {
		var err error
		client, err = b.build()
		if err == nil {
			break
		}
		var re *rest.Error
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == 401 {
			return nil, fmt.Errorf("discord refused the bot token (401): check SMARTERDEV_DISCORD_TOKEN")
		}
		wait := min(time.Duration(attempt)*2*time.Second, 30*time.Second)
		b.log.Warn("gateway: cannot reach Discord yet; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	if err := b.registerCommands(client); err != nil {
		b.fence.pass()
		client.Close(context.Background())
		return nil, err
	}
	b.mu.Lock()
	b.client = client
	b.mu.Unlock()
	client.ShardManager.Open(ctx)
	if ctx.Err() != nil { // a shutdown during the opening: Run closes what there is
		b.log.Info("gateway: start-up stopped by shutdown")
		return client, nil
	}
	ids := []int{}
	for s := range client.ShardManager.Shards() {
		ids = append(ids, s.ShardID())
	}
	b.log.Info("gateway: shards opened", "shards", ids, "intents", int64(Intents))
	return client, nil
}

func (b *Bot) build() (*dbot.Client, error) {
	return b.newClient(b.gw.eventHandlers()) // events by type, resumes, heartbeat latency, spans (observe.go)
}

// newClient builds disgo's client as the bot runs it; handlers installs its
// gateway event handlers: observe.go's in production (build), disgo's own
// in BenchmarkGatewayInstrumentation's reference, so that the benchmark
// measures the instrumentation against the same wiring without it.
func (b *Bot) newClient(handlers dbot.ConfigOpt) (*dbot.Client, error) {
	logger := slog.New(fenceHandler{f: b.fence, inner: b.log.Handler(), sent: b.gw.heartbeatSent, waitAcks: b.gw.waitAcks,
		beforeACK: b.gw.awaitSends, shard: -1})
	gw := []gateway.ConfigOpt{gateway.WithIntents(Intents), gateway.WithCompression(gateway.CompressionNone)}
	if b.o.GatewayURL != "" {
		gw = append(gw, gateway.WithURL(b.o.GatewayURL))
	}
	sh := []sharding.ConfigOpt{sharding.WithGatewayConfigOpts(gw...), sharding.WithAutoScaling(false),
		// Each shard's rate limiter is disgo's, logging through the fence
		// (waitAcks), inside a sendTracker (awaitSends; observe.go).
		sharding.WithGatewayCreateFunc(b.gw.createGateway(func() gateway.RateLimiter {
			return gateway.NewRateLimiter(gateway.WithRateLimiterLogger(logger))
		}))}
	if b.o.ShardCount > 0 {
		sh = append(sh, sharding.WithShardCount(b.o.ShardCount))
		ids := b.o.ShardIDs
		if len(ids) == 0 {
			for i := range b.o.ShardCount {
				ids = append(ids, i)
			}
		}
		sh = append(sh, sharding.WithShardIDs(ids...))
	}
	return disgo.New(b.o.Token,
		dbot.WithLogger(logger),
		dbot.WithRest(NewREST(RESTOptions{Token: b.o.Token, APIURL: b.o.APIURL, Logger: logger})),
		dbot.WithShardManagerConfigOpts(sh...),
		handlers,
		// Guilds and roles only: automod computes moderators' permissions from them.
		dbot.WithCacheConfigOpts(cache.WithCaches(cache.FlagGuilds, cache.FlagRoles)),
		// Every event passes the fence (see disgo.go), not only those handled.
		dbot.WithEventListenerFunc(func(dbot.Event) { b.fence.pass() }),
		dbot.WithEventListenerFunc(b.onMessage),
		dbot.WithEventListenerFunc(b.onInteraction),
		dbot.WithEventListenerFunc(b.onAutomodMessage),
		dbot.WithEventListenerFunc(b.onMemberJoin),
	)
}

// registerCommands bulk-overwrites the commands: in one guild when
// configured, globally otherwise.
func (b *Bot) registerCommands(client *dbot.Client) error {
	defs := commands.Definitions()
	var err error
	if b.o.GuildID != 0 {
		_, err = client.Rest.SetGuildCommands(client.ApplicationID, snowflake.ID(b.o.GuildID), defs)
	} else {
		_, err = client.Rest.SetGlobalCommands(client.ApplicationID, defs)
	}
	if err != nil {
		return fmt.Errorf("register slash commands: %w", err)
	}
	scope := "global"
	if b.o.GuildID != 0 {
		scope = fmt.Sprintf("guild %d", b.o.GuildID)
	}
	b.log.Info("gateway: slash commands registered", "count", len(defs), "scope", scope)
	return nil
}

// Ready reports whether every shard is connected; during the start-up grace
// period it reports success while they connect.
func (b *Bot) Ready(context.Context) error {
	b.mu.Lock()
	client := b.client
	b.mu.Unlock()
	inGrace := time.Since(b.started) < b.o.StartGrace
	if client == nil {
		if inGrace {
			return nil
		}
		return errors.New("not connected to Discord")
	}
	var down []string
	n := 0
	for s := range client.ShardManager.Shards() {
		n++
		if s.Status() != gateway.StatusReady {
			down = append(down, fmt.Sprintf("shard %d %s", s.ShardID(), s.Status()))
		}
	}
	if n == 0 {
		down = append(down, "no shard open")
	}
	if len(down) > 0 && !inGrace {
		return errors.New(strings.Join(down, ", "))
	}
	return nil
}

// Rest is the bot's REST client (nil before Run connected).
func (b *Bot) Rest() rest.Rest {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == nil {
		return nil
	}
	return b.client.Rest
}

func (b *Bot) runCtx() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// onInteraction answers on its own goroutine so the shard keeps reading.
func (b *Bot) onInteraction(e *events.InteractionCreate) {
	b.fence.pass()
	if b.o.Router == nil {
		return
	}
	in := e.Interaction
	rs := e.Client().Rest
	span := b.eventSpan(e) // the command belongs to the interaction's trace (trace.go)
	b.work.Go(func() {
		ctx, cancel := context.WithTimeout(b.eventContext(span), 30*time.Second)
		defer cancel()
		var work trace.Span
		if span != nil {
			ctx, work = startWork(ctx, span, "bot.Interaction", interactionAttrs(in)...)
		}
		b.o.Router.Handle(ctx, in, commands.NewRESTResponder(rs, in))
		endWork(work, nil)
	})
}

// displayName is how the member appears in the guild.
func displayName(m *discord.Member, u discord.User) string {
	if m != nil && m.Nick != nil && *m.Nick != "" {
		return *m.Nick
	}
	return u.EffectiveName()
}
