// Package web is the admin dashboard: Discord OAuth2 sign-in, server-side
// sessions, CSRF protection, per-guild authorization and the server-rendered
// pages (html/template + htmx, readable without JavaScript).
//
// Every route is listed in routes(); one file per page or action.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
)

// Deps are what the dashboard needs; the composition root builds them.
type Deps struct {
	DB         *store.DB
	Economy    *economy.Service
	Squads     *squads.Service
	APIKeys    *apikeys.Service
	Moderation *moderation.Service
	Discord    *discordapi.Client
	Logger     *slog.Logger

	// The status page's sources; each may be nil (the page says so).
	Health     func(ctx context.Context) health.Report // the process's readiness report
	Heartbeats HeartbeatReader                         // bot heartbeats (internal/botstatus)
	Bus        bus.Bus                                 // queue depth, lag and dead letters of Queues
	Queues     []string
	// BackupMaxAge (SMARTERDEV_BACKUP_MAX_AGE) marks the last backup overdue
	// on the status page; 0: never.
	BackupMaxAge time.Duration
	Alerts       AlertReports // the built-in alerting's latest report (internal/alerting)

	OperatorIDs []int64 // may manage every guild
	DevMode     bool    // SMARTERDEV_DEV_MODE
	ListenAddr  string  // SMARTERDEV_HTTP_ADDR: dev sign-in needs a loopback address
	// PublicURL (SMARTERDEV_PUBLIC_URL) is the dashboard's address as
	// browsers reach it, e.g. https://dash.example.com behind a proxy that
	// terminates TLS: it makes the OAuth2 redirect URI, sets Secure on the
	// cookies when https, and is a trusted Origin. Empty: each request's own.
	PublicURL string
	// SessionKey (32 bytes) seals the Discord access tokens kept in sessions
	// (tokens.go). Required when Discord sign-in is configured.
	SessionKey []byte
	Now        func() time.Time
	// GuildsTTL is how long a member's guild permissions are trusted before
	// Discord is asked again; default 60 s.
	GuildsTTL time.Duration
}

// Session lifetimes.
const (
	IdleTimeout     = 2 * time.Hour
	AbsoluteTimeout = 7 * 24 * time.Hour
	touchEvery      = time.Minute
)

// Handler is the dashboard.
type Handler struct {
	d      Deps
	log    *slog.Logger
	now    func() time.Time
	pages  *pages
	dir    *discordapi.Directory
	mux    *http.ServeMux // routes(), which the 404/405 page looks into
	routed http.Handler   // mux, recording route patterns
	public *url.URL       // nil: from the request
	tokens *tokenBox      // nil without a session key

	guildsMu sync.Mutex
	guilds   map[string]cachedGuilds // by session id hash
}

// New builds the dashboard; it fails when a page template is missing or
// does not parse.
func New(d Deps) (*Handler, error) {
	if d.DB == nil || d.Economy == nil || d.Squads == nil || d.APIKeys == nil || d.Moderation == nil || d.Discord == nil {
		return nil, errors.New("web: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.GuildsTTL <= 0 {
		d.GuildsTTL = 60 * time.Second
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		d: d, log: d.Logger, now: func() time.Time { return d.Now().UTC() }, pages: p,
		dir:    discordapi.NewDirectory(d.Discord, discordapi.DefaultTTL),
		guilds: map[string]cachedGuilds{},
	}
	if d.PublicURL != "" {
		u, err := url.Parse(d.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("web: the public URL must be http(s)://HOST")
		}
		h.public = u
	}
	switch {
	case d.SessionKey != nil:
		if h.tokens, err = newTokenBox(d.SessionKey); err != nil {
			return nil, err
		}
	case d.Discord.OAuthConfigured():
		return nil, errors.New("web: Discord sign-in needs a session key to keep tokens sealed")
	}
	h.mux = h.routes()
	h.routed = logging.CaptureRoute(h.mux) // metrics and logs see the dashboard's own route patterns
	return h, nil
}

// ServeHTTP serves the dashboard with its security headers, turning panics
// into an HTML error page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	if logging.RequestID(r.Context()) == "" && r.Header.Get(logging.HeaderRequestID) == "" {
		// Outside the app's logging middleware (tests, embedding): still give
		// every error page an id to quote.
		id := randomToken()[:16]
		r.Header.Set(logging.HeaderRequestID, id)
		w.Header().Set(logging.HeaderRequestID, id)
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "dashboard panic", "panic", v, "path", r.URL.Path)
			h.errorPage(w, r, http.StatusInternalServerError, "")
		}
	}()
	h.routed.ServeHTTP(w, r)
}

// DevSignInAllowed reports whether the username-only sign-in is on: only in
// dev mode and only when the server listens on a loopback address.
func (h *Handler) DevSignInAllowed() bool {
	return h.d.DevMode && isLoopbackAddr(h.d.ListenAddr)
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (h *Handler) isOperator(user int64) bool { return slices.Contains(h.d.OperatorIDs, user) }

func setSecurityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' https://cdn.discordapp.com data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
}
