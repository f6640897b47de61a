package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/smarterdev/smarterdev/internal/allow"
	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
)

// routes is the whole HTTP surface in one place. Every role serves health
// (so an orchestrator can probe it); the API, the dashboard, /interactions
// and /metrics mount here as they arrive, under the role that serves them.
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /livez", livez())
	mux.Handle("GET /readyz", a.health.Handler())
	mux.Handle("GET /metrics", a.metricsHandler())
	// Answers only loopback clients without proxy headers (docs/observability.md).
	mux.Handle("/debug/log-level", logging.LevelHandler(a.LogLevel(), a.log))
	// The web role's surface mounts here, under `if a.role.Runs(RoleWeb)`,
	// with a.services: /api/v1/..., /api/openapi.json, /api/docs,
	// /interactions and the dashboard.
	if a.role.Runs(RoleWeb) {
		mux.Handle("/api/", a.apiHandler())
		mux.Handle("POST /interactions", a.interactionsHandler())
		// Components, bot heartbeats, queues and the outbox, for the status page (botstatus.go).
		mux.Handle("GET /status.json", a.statusHandler())
		// The dashboard (internal/web): every path not claimed above.
		mux.Handle("/", wrongMethod(mux, a.webHandler()))
	} else {
		mux.Handle("/", wrongMethod(mux, problemHandler(http.StatusNotFound, "nothing is served at this path")))
	}
	return mux
}

// wrongMethod answers a request for one of the paths above with a method it
// does not take (POST /livez, GET /interactions) with a 405 problem and an
// Allow header; everything else goes on to next.
func wrongMethod(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods := allow.Methods(mux, r, "/")
		if len(methods) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		problemHandler(http.StatusMethodNotAllowed, r.URL.Path+" takes "+strings.Join(methods, ", ")).ServeHTTP(w, r)
	})
}

// problemHandler answers an RFC 9457 problem, as the API does.
func problemHandler(status int, detail string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail,
			"request_id": logging.RequestID(r.Context())})
	})
}

// livez answers while the process runs: it checks nothing else, so a slow
// database never gets a healthy process restarted.
func livez() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// apiHandler builds /api/: rate limits are shared through Redis when the
// deployment has it, per process otherwise.
func (a *App) apiHandler() http.Handler {
	var limiter ratelimit.Limiter = ratelimit.NewMemory(nil)
	if a.redis != nil {
		limiter = ratelimit.NewRedis(a.redis, "smarterdev:ratelimit:")
	}
	deps := api.Deps{
		DB: a.db, Economy: a.services.Economy, Squads: a.services.Squads, Moderation: a.services.Moderation, Keys: a.services.APIKeys,
		Idempotency: a.services.Idempotency, Limiter: limiter, Logger: a.log.With("component", "api"), Version: version,
	}
	// With a bot token, squad roles and the mod-log channel are checked against Discord.
	if o := a.discordOptions(); o.BotToken != "" {
		deps.Discord = discordapi.NewDirectory(discordapi.New(o), discordapi.DefaultTTL)
	}
	h, err := api.New(deps)
	if err != nil {
		a.fail(fmt.Errorf("build the API: %w", err))
		return http.NotFoundHandler()
	}
	return h
}
