// Package api is the REST API under /api/v1, described by the OpenAPI 3.1
// document that huma generates from the handlers' types (/api/openapi.json)
// and browsable at /api/docs. Handlers translate HTTP to calls on the domain
// services and errors to RFC 9457 problems, once, in problem.go. Every route
// is listed in routes.go.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/smarterdev/smarterdev/internal/allow"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
)

// Deps are what the API needs; the composition root builds them.
type Deps struct {
	DB          *store.DB // the audit log is read straight from the store
	Economy     *economy.Service
	Squads      *squads.Service
	Moderation  *moderation.Service
	Keys        *apikeys.Service
	Idempotency *idempotency.Store
	Limiter     ratelimit.Limiter // nil: an in-process limiter
	Limit       ratelimit.Limit   // zero: ratelimit.Default
	Logger      *slog.Logger
	Version     string
	// Discord, when set, checks choices against the guild as Discord has
	// it (discordapi.Directory): a squad or reward role the bot must not
	// give to whoever joins or reaches its threshold (a staff or a bot's
	// role), a mod-log channel the bot cannot post in.
	Discord interface {
		SquadRoleProblem(ctx context.Context, guild, role int64) string
		RewardRoleProblem(ctx context.Context, guild, role int64) string
		ModLogProblem(ctx context.Context, guild, channel int64) string
	}
}

type server struct {
	Deps
	log  *slog.Logger
	api  huma.API
	spec []byte // the OpenAPI document, rendered once
	docs []byte // the /api/docs page, rendered once

	// Fast paths of the hottest operations, by operation id (fast.go), and
	// huma's own handler of each (without middlewares), which they hand the
	// requests they do not answer themselves.
	fast     map[string]fastHandler
	plain    huma.API // never mounted: only collects those handlers
	fallback map[string]func(huma.Context)
	// noTransformers: huma changes no response body before marshalling it,
	// so a fast path may encode its own.
	noTransformers bool
	burst          string // s.Limit.Burst as text, for RateLimit-Limit
}

// New returns the handler for /api/: the versioned routes, the OpenAPI
// document and the docs page.
func New(d Deps) (http.Handler, error) { return newHandler(d, true) }

// newHandler is New; without fast paths (fast.go) huma answers every
// operation itself, which fast_test.go compares them with.
func newHandler(d Deps, fast bool) (http.Handler, error) {
	useProblems()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Limiter == nil {
		d.Limiter = ratelimit.NewMemory(nil)
	}
	if d.Limit == (ratelimit.Limit{}) {
		d.Limit = ratelimit.Default
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	s := &server{Deps: d, log: d.Logger, burst: strconv.Itoa(d.Limit.Burst)}

	mux := http.NewServeMux()
	collect := collector{}
	s.plain, s.fallback = huma.NewAPI(config(d.Version), collect), collect
	if fast {
		s.fast = map[string]fastHandler{"get-balance": s.getBalanceFast}
	}
	cfg := config(d.Version)
	s.noTransformers = len(cfg.Transformers) == 0 && len(cfg.CreateHooks) == 0
	s.api = huma.NewAPI(cfg, adapter{Adapter: humago.NewAdapter(mux, ""), s: s})
	s.api.UseMiddleware(s.authenticate, s.rateLimit, s.authorize, s.idempotent)
	s.routes()
	if s.Moderation != nil {
		s.moderationRoutes()
	}

	var err error
	if s.spec, err = s.api.OpenAPI().MarshalJSON(); err != nil {
		return nil, err
	}
	if s.docs, err = renderDocs(s.spec); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /api/openapi.json", s.serveSpec)
	mux.HandleFunc("GET /api/docs", s.serveDocs)
	mux.HandleFunc(unmatched, func(w http.ResponseWriter, r *http.Request) {
		if methods := allow.Methods(mux, r, unmatched); len(methods) > 0 {
			list := strings.Join(methods, ", ")
			writeProblemHTTP(w, r, newProblem(http.StatusMethodNotAllowed, "method_not_allowed",
				r.URL.Path+" does not take "+r.Method+"; it takes "+list+" (see /api/docs)").setHeader("Allow", list))
			return
		}
		writeProblemHTTP(w, r, newProblem(http.StatusNotFound, "not_found", "no API route matches "+r.Method+" "+r.URL.Path+"; see /api/docs"))
	})
	// CaptureRoute labels metrics, logs and spans with the API route pattern.
	return withRequestID(s.recoverer(logging.CaptureRoute(mux))), nil
}

// unmatched is the pattern of every /api/ path no route serves.
const unmatched = "/api/"

// config is the API's huma configuration.
func config(version string) huma.Config {
	cfg := huma.DefaultConfig("Smarter Dev API", version)
	// We serve the document and the docs page ourselves (no CDN assets), and
	// keep response bodies free of huma's $schema links.
	cfg.OpenAPIPath, cfg.DocsPath, cfg.SchemasPath = "", "", ""
	cfg.CreateHooks = nil
	cfg.Info.Description = apiDescription
	cfg.Servers = []*huma.Server{{URL: "/", Description: "this server"}}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {
			Type: "http", Scheme: "bearer", BearerFormat: "sdk_<prefix>_<secret>",
			Description: "An API key from `smarterdev apikey create`. Scopes: read < write < admin; a key may be bound to one guild.",
		},
	}
	return cfg
}

const apiDescription = `The REST API of Smarter Dev: the bytes economy, squads and moderation of the
guilds this installation serves. Guild, user and role ids are Discord snowflakes written as
decimal strings.

Authentication: ` + "`Authorization: Bearer sdk_...`" + ` with a key from
` + "`smarterdev apikey create`" + `. GET needs the read scope, member actions (transfers,
daily claims, joins, closing a case) need write, configuration, squad
management and adjustments need admin. A key bound to a guild works only
there. The audit log records every change made with a key under its prefix.

Errors are RFC 9457 ` + "`application/problem+json`" + ` with a ` + "`code`" + `, a ` + "`request_id`" + `, one
` + "`errors`" + ` entry per invalid field, and extras such as ` + "`balance`" + `, ` + "`needed`" + ` or
` + "`retry_after_seconds`" + `. Lists are cursor-paginated: pass ` + "`next_cursor`" + ` back as
` + "`cursor`" + ` until it is absent. Writes that move bytes accept an ` + "`Idempotency-Key`" + `
header (at most 255 characters, remembered 24 hours) so that retries are safe.
Every authenticated response carries ` + "`RateLimit-Limit`" + `, ` + "`RateLimit-Remaining`" + ` and
` + "`RateLimit-Reset`" + `; a 429 carries ` + "`Retry-After`" + `.`

// op describes one route beyond what huma derives from the types.
type op struct {
	huma.Operation
	scope      apikeys.Scope
	idempotent bool // honours Idempotency-Key
}

// register adds an operation with its scope, security requirement and the
// error responses every route shares.
func register[I, O any](s *server, o op, h func(context.Context, *I) (*O, error)) {
	o.Metadata = map[string]any{metaScope: o.scope, metaIdempotent: o.idempotent}
	o.Security = []map[string][]string{{"bearer": {string(o.scope)}}}
	o.Errors = append([]int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity,
		http.StatusTooManyRequests, http.StatusInternalServerError}, o.Errors...)
	// Any other status (400, 413, 415 from huma's body handling) is a problem
	// too: say so, so that generated clients decode it.
	o.Responses = map[string]*huma.Response{"default": {Description: "Any other error", Content: map[string]*huma.MediaType{
		"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
	}}}
	o.Description = strings.TrimSpace(o.Description) + "\n\nRequires the `" + string(o.scope) + "` scope."
	if o.idempotent {
		o.Description += " Accepts an `Idempotency-Key` header: a retry with the same key and body replays the first response (with `Idempotent-Replayed: true`); the same key with a different body is a 422; a retry while the first is still running is a 409."
	}
	op := o.Operation
	writes := o.scope != apikeys.Read
	handler := func(ctx context.Context, in *I) (*O, error) {
		if writes { // whatever it changes, the audit log names the key
			if k := apiKeyOf(ctx); k.Prefix != "" {
				ctx = audit.ViaAPIKey(ctx, k.Prefix)
			}
		}
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.problemOf(ctx, operationOf(ctx), err)
		}
		return out, nil
	}
	if _, ok := s.fast[op.OperationID]; ok {
		huma.Register(s.plain, op, handler) // huma's handler, for the fast path to fall back on
	}
	huma.Register(s.api, op, handler)
}

// Metadata keys on operations, read by the middlewares.
const (
	metaScope      = "scope"
	metaIdempotent = "idempotent"
)

type ctxKey int

const keyRequest ctxKey = iota

// request is what the API learns about a request as it passes: its id
// (withRequestID, which puts the record in the context once), then the
// operation and the API key (authenticate fills them in, so that no layer
// copies the context again).
type request struct {
	id  string
	op  *huma.Operation
	key apikeys.Key
}

func requestOf(ctx context.Context) *request {
	if r, ok := ctx.Value(keyRequest).(*request); ok {
		return r
	}
	if rec := logging.RequestOf(ctx); rec != nil {
		r, _ := rec.Inner.(*request)
		return r
	}
	return nil
}

func operationOf(ctx context.Context) *huma.Operation {
	if r := requestOf(ctx); r != nil {
		return r.op
	}
	return nil
}

func apiKeyOf(ctx context.Context) apikeys.Key {
	if r := requestOf(ctx); r != nil {
		return r.key
	}
	return apikeys.Key{}
}

func (s *server) serveSpec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.oai.openapi+json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(s.spec)
}

func (s *server) serveDocs(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	// The page is static HTML with inline CSS: nothing to load from anywhere.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	_, _ = w.Write(s.docs)
}
