package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/logging"
)

// withRequestID gives every request an id (the client's X-Request-Id when it
// is sane) that problems and logs quote, in the request record that the
// middlewares fill in as they pass.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec := logging.RequestOf(r.Context()); rec != nil && rec.ID != "" && rec.Inner == nil {
			// Under logging.Middleware: its id, already in the response's
			// header; our record in its slot, without a context layer.
			rec.Inner = &request{id: rec.ID}
			next.ServeHTTP(w, r)
			return
		}
		id := r.Header.Get("X-Request-Id")
		if !logging.SaneRequestID(id) {
			id = logging.NewRequestID() // the id logging.Middleware would draw: cheap, unique across processes
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequest, &request{id: id})))
	})
}

func requestIDOf(ctx context.Context) string {
	if r := requestOf(ctx); r != nil {
		return r.id
	}
	return ""
}

// recoverer turns a panic into a logged 500 problem instead of a dropped
// connection.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the server's own signal to drop the connection
			}
			rid := requestIDOf(r.Context())
			s.log.ErrorContext(r.Context(), "api: panic", "request_id", rid, "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeProblemHTTP(w, r, newProblem(http.StatusInternalServerError, "internal", "internal error; quote the request id when reporting it"))
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate checks the bearer key; every failure is the same 401 so that
// probing learns nothing.
func (s *server) authenticate(ctx huma.Context, next func(huma.Context)) {
	req := requestOf(ctx.Context())
	if req == nil { // not under withRequestID
		req = &request{}
		ctx = huma.WithValue(ctx, keyRequest, req)
	}
	req.op = ctx.Operation()
	h := ctx.Header("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") {
		p := newProblem(http.StatusUnauthorized, "unauthenticated", "send an API key: Authorization: Bearer sdk_...")
		writeProblem(ctx, p.setHeader("WWW-Authenticate", `Bearer realm="smarterdev"`))
		return
	}
	key, err := s.Keys.Authenticate(ctx.Context(), strings.TrimSpace(token))
	if err != nil {
		if !errors.Is(err, apikeys.ErrInvalidKey) {
			writeProblem(ctx, s.problemOf(ctx.Context(), nil, err))
			return
		}
		p := newProblem(http.StatusUnauthorized, "unauthenticated", err.Error())
		writeProblem(ctx, p.setHeader("WWW-Authenticate", `Bearer realm="smarterdev", error="invalid_token"`))
		return
	}
	req.key = key
	next(ctx)
}

// rateLimit applies the per-key GCRA limit and reports it on every
// authenticated response. When the shared limiter (Redis) does not answer,
// requests pass: the API stays up and the failure is logged.
func (s *server) rateLimit(ctx huma.Context, next func(huma.Context)) {
	key := apiKeyOf(ctx.Context())
	res, err := s.Limiter.Allow(ctx.Context(), "apikey:"+strconv.FormatInt(key.ID, 10), s.Limit)
	if err != nil {
		s.log.WarnContext(ctx.Context(), "api: rate limiter unavailable; request allowed", "err", err)
		next(ctx)
		return
	}
	limit := s.burst
	if res.Limit.Burst != s.Limit.Burst {
		limit = strconv.Itoa(res.Limit.Burst)
	}
	setRateLimitHeaders(ctx, limit, strconv.Itoa(max(res.Remaining, 0)), strconv.FormatInt(ceilSeconds(res.ResetAfter.Seconds()), 10))
	if !res.Allowed {
		p := newProblem(http.StatusTooManyRequests, "rate_limited",
			fmt.Sprintf("rate limit of %d requests per second (burst %d) exceeded for this API key", res.Limit.Rate, res.Limit.Burst))
		p.retryAfter(res.RetryAfter)
		writeProblem(ctx, p)
		return
	}
	next(ctx)
}

func ceilSeconds(f float64) int64 { return max(int64(math.Ceil(f)), 0) }

// setRateLimitHeaders sets RateLimit-Limit, -Remaining and -Reset. On the
// ResponseWriter beneath (every request but in tests of other adapters) it
// writes their canonical names straight into the header map with one
// allocation for the three values, instead of six allocations through
// SetHeader, which canonicalises "RateLimit-..." anew on every call.
func setRateLimitHeaders(ctx huma.Context, limit, remaining, reset string) {
	u, ok := ctx.(interface {
		Unwrap() (*http.Request, http.ResponseWriter)
	})
	if !ok {
		ctx.SetHeader("RateLimit-Limit", limit)
		ctx.SetHeader("RateLimit-Remaining", remaining)
		ctx.SetHeader("RateLimit-Reset", reset)
		return
	}
	_, w := u.Unwrap()
	h := w.Header()
	v := []string{limit, remaining, reset}
	h["Ratelimit-Limit"], h["Ratelimit-Remaining"], h["Ratelimit-Reset"] = v[0:1:1], v[1:2:2], v[2:3:3]
}

// authorize checks the key's scope against the operation's and, for a key
// bound to a guild, the guild in the path.
func (s *server) authorize(ctx huma.Context, next func(huma.Context)) {
	key := apiKeyOf(ctx.Context())
	need, _ := ctx.Operation().Metadata[metaScope].(apikeys.Scope)
	if !key.Scope.Allows(need) {
		writeProblem(ctx, newProblem(http.StatusForbidden, "forbidden",
			fmt.Sprintf("this API key has the %s scope; %s %s needs %s", key.Scope, ctx.Method(), ctx.Operation().Path, need)))
		return
	}
	if g := ctx.Param("guild"); g != "" && key.GuildID != 0 {
		// An unparsable id is left to validation (422).
		if id, err := strconv.ParseInt(g, 10, 64); err == nil && !key.AllowsGuild(id) {
			writeProblem(ctx, newProblem(http.StatusForbidden, "forbidden", "this API key is bound to another guild"))
			return
		}
	}
	next(ctx)
}
