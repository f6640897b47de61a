package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/apikeys"
)

// withRequestID gives every request an id (the client's X-Request-Id when it
// is sane) that problems and logs quote.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func requestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
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
	ctx = huma.WithValue(ctx, keyOperation, ctx.Operation())
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
	next(huma.WithValue(ctx, keyAPIKey, key))
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
	ctx.SetHeader("RateLimit-Limit", strconv.Itoa(res.Limit.Burst))
	ctx.SetHeader("RateLimit-Remaining", strconv.Itoa(max(res.Remaining, 0)))
	ctx.SetHeader("RateLimit-Reset", strconv.FormatInt(ceilSeconds(res.ResetAfter.Seconds()), 10))
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
