package app

import (
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/web"
)

// webHandler builds the dashboard (internal/web). It talks to Discord at
// SMARTERDEV_DISCORD_API_URL: OAuth2 sign-in with the client id and secret,
// names and avatars with the bot token; against the sandbox emulator when
// serve runs one (no SMARTERDEV_DISCORD_TOKEN).
func (a *App) webHandler() http.Handler {
	o := a.discordOptions()
	dc := discordapi.New(o)
	h, err := web.New(web.Deps{
		PublicURL: a.cfg.PublicURL, SessionKey: a.sessionKey(o.ClientSecret),
		DB: a.db, Economy: a.services.Economy, Squads: a.services.Squads, APIKeys: a.services.APIKeys,
		Moderation: a.services.Moderation,
		Discord:    dc, Logger: a.log.With("component", "web"),
		OperatorIDs: a.cfg.OperatorIDs, DevMode: a.cfg.DevMode, ListenAddr: a.cfg.HTTPAddr,
		// The status page (/status): readiness, bot heartbeats, queues.
		Health: a.health.Check, Heartbeats: a.heartbeatStore(), Bus: a.bus, Queues: watchedQueues,
		BackupMaxAge: a.cfg.BackupMaxAge,         // and the last backup (internal/backup)
		Alerts:       alerting.Reports{DB: a.db}, // and what the worker's built-in alerting says
	})
	if err != nil {
		a.fail(fmt.Errorf("build the dashboard: %w", err))
		return http.NotFoundHandler()
	}
	return h
}

// sessionKey seals the Discord tokens of dashboard sessions:
// SMARTERDEV_SESSION_KEY, else derived from the OAuth2 client secret (which
// the deployment keeps outside the database, and every replica shares);
// nil without sign-in, when no token is ever stored.
func (a *App) sessionKey(clientSecret string) []byte {
	if k := a.cfg.SessionKey; k.IsSet() {
		key, _ := hex.DecodeString(k.Value()) // config checked it is 64 hex characters
		return key
	}
	if clientSecret == "" {
		return nil
	}
	return web.DeriveSessionKey(clientSecret)
}

// discordOptions are how the dashboard and the API reach Discord's REST API:
// the configured one, or the sandbox emulator serve runs without a token.
func (a *App) discordOptions() discordapi.Options {
	if d := a.services.discord; d != nil && d.sandbox != nil {
		e := d.sandbox.Emulator
		return discordapi.Options{APIURL: e.APIURL(), BotToken: e.BotToken(), ClientID: e.ClientID(), ClientSecret: e.ClientSecret()}
	}
	return discordapi.Options{
		APIURL:       a.cfg.Discord.APIURL,
		BotToken:     a.cfg.Discord.Token.Value(),
		ClientID:     a.cfg.Discord.ClientID,
		ClientSecret: a.cfg.Discord.ClientSecret.Value(),
	}
}
