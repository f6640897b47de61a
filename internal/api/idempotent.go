package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/idempotency"
)

// idempotent runs an operation that honours Idempotency-Key at most once per
// key (see package idempotency for the design), replaying the stored
// response to retries.
func (s *server) idempotent(ctx huma.Context, next func(huma.Context)) {
	on, _ := ctx.Operation().Metadata[metaIdempotent].(bool)
	key := ctx.Header(idempotency.Header)
	if !on || key == "" {
		next(ctx)
		return
	}
	if err := idempotency.CheckKey(key); err != nil {
		writeProblem(ctx, s.problemOf(ctx.Context(), ctx.Operation(), err))
		return
	}
	limit := ctx.Operation().MaxBodyBytes
	body, err := io.ReadAll(io.LimitReader(ctx.BodyReader(), limit+1))
	if err != nil {
		writeProblem(ctx, newProblem(http.StatusBadRequest, "invalid", "the request body could not be read"))
		return
	}
	if int64(len(body)) > limit {
		writeProblem(ctx, newProblem(http.StatusRequestEntityTooLarge, "invalid", "the request body is too large"))
		return
	}
	u := ctx.URL()
	scope := idempotency.Scope{APIKeyID: apiKeyOf(ctx.Context()).ID, Route: ctx.Method() + " " + ctx.Operation().Path, Key: key}
	claim, replay, err := s.Idempotency.Begin(ctx.Context(), scope, idempotency.Hash(ctx.Method(), u.Path, body))
	var mismatch *idempotency.MismatchError
	var inFlight *idempotency.InFlightError
	switch {
	case errors.As(err, &mismatch):
		p := newProblem(http.StatusUnprocessableEntity, "invalid", err.Error())
		p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error(), Location: "header." + idempotency.Header, Value: key})
		writeProblem(ctx, p)
		return
	case errors.As(err, &inFlight):
		p := newProblem(http.StatusConflict, "conflict", err.Error())
		p.retryAfter(time.Second)
		writeProblem(ctx, p)
		return
	case err != nil:
		writeProblem(ctx, s.problemOf(ctx.Context(), ctx.Operation(), err))
		return
	case replay != nil:
		if replay.ContentType != "" {
			ctx.SetHeader("Content-Type", replay.ContentType)
		}
		ctx.SetHeader("Idempotent-Replayed", "true")
		ctx.SetStatus(replay.Status)
		_, _ = ctx.BodyWriter().Write(replay.Body)
		return
	}

	rec := &recorder{humaContext: ctx, body: bytes.NewReader(body)}
	// The claim must be settled even if the client goes away mid-request.
	bg := context.WithoutCancel(ctx.Context())
	settled := false
	defer func() {
		if !settled {
			_ = s.Idempotency.Release(bg, claim) // a panic: nothing to replay
		}
	}()
	next(rec)
	settled = true
	if rec.status == 0 || rec.status >= 500 {
		if err := s.Idempotency.Release(bg, claim); err != nil {
			s.log.Warn("api: idempotency key not released; retries wait for it to expire", "err", err)
		}
		return
	}
	if err := s.Idempotency.Complete(bg, claim, idempotency.Response{Status: rec.status, ContentType: rec.contentType, Body: rec.out.Bytes()}); err != nil {
		s.log.Warn("api: idempotent response not stored; retries are refused until the key expires", "err", err)
	}
}

// humaContext is embedded under this name because huma.Context has a
// method called Context.
type humaContext = huma.Context

// recorder hands the handler the already-read body and keeps a copy of what
// it answers.
type recorder struct {
	humaContext
	body        io.Reader
	status      int
	contentType string
	out         bytes.Buffer
}

func (r *recorder) BodyReader() io.Reader { return r.body }

func (r *recorder) SetStatus(code int) {
	r.status = code
	r.humaContext.SetStatus(code)
}

func (r *recorder) Status() int { return r.status }

func (r *recorder) SetHeader(name, value string) {
	if http.CanonicalHeaderKey(name) == "Content-Type" {
		r.contentType = value
	}
	r.humaContext.SetHeader(name, value)
}

func (r *recorder) BodyWriter() io.Writer { return io.MultiWriter(&r.out, r.humaContext.BodyWriter()) }

// Unwrap lets humago find the request beneath.
func (r *recorder) Unwrap() huma.Context { return r.humaContext }
