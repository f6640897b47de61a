package app

import (
	"fmt"
	"net/http"

	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/web"
)

// webHandler builds the dashboard (internal/web). It talks to Discord at
// SMARTERDEV_DISCORD_API_URL: OAuth2 sign-in with the client id and secret,
// names and avatars with the bot token; against the sandbox emulator when
// serve runs one (no SMARTERDEV_DISCORD_TOKEN).
func (a *App) webHandler() http.Handler {
	o := discordapi.Options{
		APIURL:       a.cfg.Discord.APIURL,
		BotToken:     a.cfg.Discord.Token.Value(),
		ClientID:     a.cfg.Discord.ClientID,
		ClientSecret: a.cfg.Discord.ClientSecret.Value(),
	}
	if d := a.services.discord; d != nil && d.sandbox != nil {
		// No token: serve runs the built-in emulator; sign in through its OAuth2.
		e := d.sandbox.Emulator
		o = discordapi.Options{APIURL: e.APIURL(), BotToken: e.BotToken(), ClientID: e.ClientID(), ClientSecret: e.ClientSecret()}
	}
	dc := discordapi.New(o)
	h, err := web.New(web.Deps{
		DB: a.db, Economy: a.services.Economy, Squads: a.services.Squads, APIKeys: a.services.APIKeys,
		Moderation: a.services.Moderation,
		Discord:    dc, Logger: a.log.With("component", "web"),
		OperatorIDs: a.cfg.OperatorIDs, DevMode: a.cfg.DevMode, ListenAddr: a.cfg.HTTPAddr,
		// The status page (/status): readiness, bot heartbeats, queues.
		Health: a.health.Check, Heartbeats: a.heartbeatStore(), Bus: a.bus, Queues: watchedQueues,
	})
	if err != nil {
		a.fail(fmt.Errorf("build the dashboard: %w", err))
		return http.NotFoundHandler()
	}
	return h
}
