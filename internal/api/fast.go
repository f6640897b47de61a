package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Fast paths: the hottest reads skip huma's per-request reflection (the
// input struct parsed and validated field by field, the output encoded
// through encoding/json), which cost about as much as the rest of the API's
// own work on a balance read. Nothing else changes:
//
//   - the operation is registered with huma as every other, so the OpenAPI
//     document is the same;
//   - the same middlewares run in the same order (authenticate, rateLimit,
//     authorize, idempotent): the fast path replaces only what huma runs
//     after them;
//   - a request that is not the plain case (a path id that the pattern or
//     snowflake() refuses, an Accept header huma would refuse) is handed to
//     huma's own handler of the operation, which validates and answers
//     exactly as for every other route;
//   - errors from the handler become the same Problem through problemOf and
//     are written as huma writes them (write mirrors huma's writeResponse).
//
// fast_test.go checks, request by request, that the fast path answers
// byte for byte what huma answers.

// fastHandler answers an operation's requests once the middlewares have
// passed them, handing huma's handler (fallback) whatever it does not answer.
type fastHandler func(ctx huma.Context, fallback func(huma.Context))

// adapter mounts operations on the ServeMux as humago's adapter does, except
// that an operation with a fast path gets it behind the same middlewares.
type adapter struct {
	huma.Adapter
	s *server
}

func (a adapter) Handle(op *huma.Operation, h func(huma.Context)) {
	if f, ok := a.s.fast[op.OperationID]; ok {
		fallback := a.s.fallback[op.OperationID]
		if fallback == nil {
			panic("api: fast path without huma's handler for " + op.OperationID)
		}
		h = a.s.api.Middlewares().Handler(op.Middlewares.Handler(func(ctx huma.Context) { f(ctx, fallback) }))
	}
	a.Adapter.Handle(op, h)
}

// collector is the adapter of an API that is never mounted: it keeps the
// handler huma builds for each operation (with no middlewares around it).
type collector map[string]func(huma.Context)

func (c collector) Handle(op *huma.Operation, h func(huma.Context))  { c[op.OperationID] = h }
func (c collector) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

// getBalanceFast is GET /bytes/balances/{user}.
func (s *server) getBalanceFast(ctx huma.Context, fallback func(huma.Context)) {
	in := MemberPath{GuildPath: GuildPath{Guild: ctx.Param("guild")}, User: ctx.Param("user")}
	ct, err := s.api.Negotiate(ctx.Header("Accept"))
	if err != nil || !plainSnowflake(in.Guild) || !plainSnowflake(in.User) {
		fallback(ctx)
		return
	}
	out, err := s.getBalance(ctx.Context(), &in)
	if err != nil {
		s.writeError(ctx, ct, s.problemOf(ctx.Context(), operationOf(ctx.Context()), err))
		return
	}
	if ct == "application/json" && s.noTransformers {
		// What huma's JSON format writes (json.Encoder, HTML not escaped, a
		// newline after), without reflection.
		bp := bufs.Get().(*[]byte)
		b, ok := appendAccountJSON((*bp)[:0], &out.Body)
		if ok {
			ctx.SetHeader("Content-Type", ct)
			ctx.SetStatus(http.StatusOK)
			_, _ = ctx.BodyWriter().Write(b)
		}
		if cap(b) <= 4096 {
			*bp = b
			bufs.Put(bp)
		}
		if ok {
			return
		}
	}
	s.write(ctx, ct, http.StatusOK, out.Body)
}

// plainSnowflake reports whether v is an id that both the path pattern
// ^[0-9]{1,20}$ and snowflake() accept; huma's handler answers the others.
func plainSnowflake(v string) bool {
	if len(v) == 0 || len(v) > 20 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return err == nil && id > 0
}

// writeError answers a Problem from the handler as huma does: its headers
// appended, then written as the response.
func (s *server) writeError(ctx huma.Context, ct string, p *Problem) {
	for k, vs := range p.GetHeaders() {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	s.write(ctx, ct, p.GetStatus(), p)
}

// write is huma's writeResponse for a negotiated content type ct: the
// body's own content type if it has one, the transformers, then the format's
// marshaller; failures end as huma's do.
func (s *server) write(ctx huma.Context, ct string, status int, body any) {
	if f, ok := body.(huma.ContentTypeFilter); ok {
		ct = f.ContentType(ct)
	}
	ctx.SetHeader("Content-Type", ct)
	op := ctx.Operation()
	v, err := s.api.Transform(ctx, strconv.Itoa(status), body)
	if err != nil {
		_, _ = ctx.BodyWriter().Write([]byte("error transforming response"))
		panic(fmt.Errorf("error transforming response for %s %s %d: %w", op.Method, op.Path, status, err))
	}
	ctx.SetStatus(status)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return
	}
	if err := s.api.Marshal(ctx.BodyWriter(), ct, v); err != nil {
		if errors.Is(ctx.Context().Err(), context.Canceled) {
			ctx.SetStatus(499) // the client went away
			return
		}
		_, _ = ctx.BodyWriter().Write([]byte("error marshaling response"))
		panic(fmt.Errorf("error marshaling response for %s %s %d: %w", op.Method, op.Path, status, err))
	}
}

// appendAccountJSON appends what encoding/json's Encoder (HTML not escaped)
// writes for a, newline included; ok is false for what it leaves to
// encoding/json: strings that would need escaping, times outside years
// 0-9999 (which encoding/json refuses).
func appendAccountJSON(b []byte, a *Account) (_ []byte, ok bool) {
	if !plainJSON(a.GuildID) || !plainJSON(a.UserID) || !plainJSON(a.LastDaily) || !jsonTime(a.CreatedAt) ||
		(a.LastTransferAt != nil && !jsonTime(*a.LastTransferAt)) {
		return b, false
	}
	b = append(b, `{"guild_id":"`...)
	b = append(b, a.GuildID...)
	b = append(b, `","user_id":"`...)
	b = append(b, a.UserID...)
	b = append(b, `","balance":`...)
	b = strconv.AppendInt(b, a.Balance, 10)
	b = append(b, `,"total_received":`...)
	b = strconv.AppendInt(b, a.TotalReceived, 10)
	b = append(b, `,"total_sent":`...)
	b = strconv.AppendInt(b, a.TotalSent, 10)
	b = append(b, `,"streak":`...)
	b = strconv.AppendInt(b, int64(a.Streak), 10)
	if a.LastDaily != "" {
		b = append(b, `,"last_daily":"`...)
		b = append(b, a.LastDaily...)
		b = append(b, '"')
	}
	if a.LastTransferAt != nil {
		b = append(b, `,"last_transfer_at":"`...)
		b = a.LastTransferAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"created_at":"`...)
	b = a.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	return b, true
}

// plainJSON reports whether encoding/json writes s as it is between quotes:
// printable ASCII without '"' or '\'.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// jsonTime reports whether time.Time.MarshalJSON writes t (as RFC3339Nano)
// rather than refusing it: a year in 0-9999, a zone offset under 24 hours.
func jsonTime(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, off := t.Zone()
	return off > -24*3600 && off < 24*3600
}

// bufs holds the buffers fast paths encode into.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
