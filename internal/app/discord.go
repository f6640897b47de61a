package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/disgoorg/disgo/rest"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/commands"
	"github.com/smarterdev/smarterdev/internal/discord/interactions"
	"github.com/smarterdev/smarterdev/internal/discord/sandbox"
	"github.com/smarterdev/smarterdev/internal/modactions"
	"github.com/smarterdev/smarterdev/internal/rolesync"
)

// discordParts are what the Discord transports share in one process.
type discordParts struct {
	router  *commands.Router
	rest    rest.Rest // nil without a token (and without the sandbox)
	sandbox *sandbox.Sandbox
	// gatewayDone closes when the gateway stopped (only with a bot running).
	gatewayDone chan struct{}
}

// wireDiscord builds the command router and, per role, the gateway (bot),
// the role worker (worker) and the REST client for HTTP interactions (web).
// Without SMARTERDEV_DISCORD_TOKEN, serve and bot start the in-process
// emulator with the demo guild instead of the real Discord (bot warns).
func (a *App) wireDiscord(s *Services) error {
	d := &discordParts{gatewayDone: make(chan struct{})}
	s.discord = d
	d.router = commands.NewRouter(commands.Deps{Economy: s.Economy, Squads: s.Squads, Moderation: s.Moderation, Bus: a.bus,
		Logger: a.log.With("component", "commands")})
	if a.role.Runs(RoleBot) || a.role.Runs(RoleWeb) {
		// Menus answered by this process (gateway or POST /interactions) show
		// disabled when their 60 s pass unused; one goroutine for all of them.
		a.Go("menu expiry", d.router.RunExpiry)
	}

	token := a.cfg.Discord.Token.Value()
	apiURL, gatewayURL := a.cfg.Discord.APIURL, a.cfg.Discord.GatewayURL
	if apiURL == "https://discord.com/api/v10" {
		apiURL = "" // disgo's default
	}
	if gatewayURL == "wss://gateway.discord.gg" {
		gatewayURL = "" // what GET /gateway/bot says
	}
	guildID := a.cfg.Discord.GuildID
	if token == "" && a.cfg.Discord.Sandbox && (a.role == RoleServe || a.role == RoleBot) {
		if a.role == RoleBot && !a.cfg.DevMode {
			a.log.Warn("the bot role has no SMARTERDEV_DISCORD_TOKEN: it runs against the built-in Discord emulator, not Discord")
		}
		sb, err := sandbox.Start(sandbox.DefaultAddr, a.log.With("component", "emulator"))
		if err != nil {
			return err
		}
		// The emulator closes after the gateway: a shard cut off while disgo
		// closes it races inside disgo v0.19.6 (docs/emulator.md).
		a.Go("discord emulator", func(ctx context.Context) error {
			<-ctx.Done()
			select {
			case <-d.gatewayDone:
			case <-time.After(10 * time.Second):
			}
			sb.Close()
			return nil
		})
		if err := sb.SeedProduct(a.loopCtx, s.Economy, s.Squads); err != nil {
			return fmt.Errorf("seed the sandbox: %w", err)
		}
		d.sandbox = sb
		token, apiURL, gatewayURL, guildID = sb.Token(), sb.APIURL(), "", int64(sb.Demo.GuildID)
		a.log.Warn(sb.Banner())
	}
	if token == "" {
		if a.role.Runs(RoleWorker) {
			a.log.Warn("no SMARTERDEV_DISCORD_TOKEN: role changes and moderation actions wait in the queue until a token is configured")
		}
		return nil
	}
	d.rest = bot.NewREST(bot.RESTOptions{Token: token, APIURL: apiURL, Logger: a.log.With("component", "discord-rest")})

	if a.role.Runs(RoleBot) {
		shardCount := a.cfg.ShardCount
		if len(a.cfg.ShardIDs) == 0 && shardCount == 1 {
			shardCount = 0 // unset: Discord's recommendation
		}
		b := bot.New(bot.Options{Token: token, APIURL: apiURL, GatewayURL: gatewayURL, GuildID: guildID,
			ShardIDs: a.cfg.ShardIDs, ShardCount: shardCount, Router: d.router, Economy: s.Economy,
			Moderation: s.Moderation, Logger: a.log.With("component", "gateway")})
		a.Go("gateway", func(ctx context.Context) error { defer close(d.gatewayDone); return b.Run(ctx) })
		a.publishHeartbeat(b) // for the web role's readiness and the worker's alert (botstatus.go)
		if a.role == RoleBot {
			a.health.Require("gateway", b.Ready)
		} else {
			a.health.Optional("gateway", b.Ready)
		}
	}
	if a.role.Runs(RoleWorker) {
		w := rolesync.New(a.bus, d.rest, rolesync.Options{Logger: a.log.With("component", "rolesync")})
		a.Go("role sync", w.Run)
		m := modactions.New(a.bus, d.rest, s.Moderation, modactions.Options{Logger: a.log.With("component", "modactions"),
			Consume: bus.ConsumeOptions{Concurrency: 4}})
		a.Go("moderation actions", m.Run)
	}
	return nil
}

// interactionsHandler serves POST /interactions with the shared router.
func (a *App) interactionsHandler() http.Handler {
	o := interactions.Options{PublicKey: a.cfg.Discord.PublicKey.Value(), Logger: a.log.With("component", "interactions")}
	if d := a.services.discord; d != nil {
		o.Router = d.router
		if d.rest != nil {
			o.Rest = d.rest
		}
	}
	return interactions.Handler(o)
}
