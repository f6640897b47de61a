package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// Problem is an RFC 9457 problem detail, with the extras a client needs to
// act on a refusal without parsing the message.
type Problem struct {
	Type      string              `json:"type,omitempty" doc:"A URI naming the problem type; absent means about:blank" example:"about:blank"`
	Title     string              `json:"title" doc:"Short summary of the status" example:"Unprocessable Entity"`
	Status    int                 `json:"status" doc:"HTTP status code" example:"422"`
	Detail    string              `json:"detail,omitempty" doc:"What went wrong, for people" example:"insufficient funds: the balance is 20 bytes and 50 are needed"`
	Code      string              `json:"code,omitempty" doc:"Machine-readable class: invalid, not_found, method_not_allowed, conflict, refused, forbidden, unavailable, internal, unauthenticated, rate_limited" example:"refused"`
	RequestID string              `json:"request_id,omitempty" doc:"Quote it when reporting a problem" example:"5f2b0c9d1e3a4b6c"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty" nullable:"false" doc:"One entry per invalid input field"`

	Balance           *int64     `json:"balance,omitempty" doc:"Current balance (insufficient funds, not eligible)" example:"20"`
	Needed            *int64     `json:"needed,omitempty" doc:"Bytes the operation needs (insufficient funds)" example:"50"`
	Minimum           *int64     `json:"minimum,omitempty" doc:"Minimum balance the guild requires for squads (not eligible)"`
	MaxMembers        *int       `json:"max_members,omitempty" doc:"The squad's member limit (squad full)"`
	RetryAfterSeconds *int64     `json:"retry_after_seconds,omitempty" doc:"Seconds until a retry can succeed (cooldown, already claimed, rate limited)" example:"3600"`
	NextAt            *time.Time `json:"next_at,omitempty" doc:"When the next daily reward can be claimed (already claimed)"`

	headers http.Header
}

func (p *Problem) Error() string             { return p.Detail }
func (p *Problem) GetStatus() int            { return p.Status }
func (p *Problem) GetHeaders() http.Header   { return p.headers }
func (p *Problem) ContentType(string) string { return "application/problem+json" }
func (p *Problem) setHeader(k, v string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Set(k, v)
	return p
}

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// statusOf is the one table from the error vocabulary to HTTP.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:     http.StatusUnprocessableEntity,
	apperr.NotFound:    http.StatusNotFound,
	apperr.Conflict:    http.StatusConflict,
	apperr.Refused:     http.StatusUnprocessableEntity,
	apperr.Forbidden:   http.StatusForbidden,
	apperr.Unavailable: http.StatusServiceUnavailable,
	apperr.Internal:    http.StatusInternalServerError,
}

// codeOfStatus names huma's own errors (validation, bad JSON) in the same
// vocabulary as ours.
func codeOfStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	for c, s := range statusOf {
		if s == status && c != apperr.Refused {
			return string(c)
		}
	}
	if status >= 500 {
		return string(apperr.Internal)
	}
	return string(apperr.Invalid)
}

var installErrors sync.Once

// useProblems makes huma's own errors (validation, unparsable bodies) come out
// as our Problem. huma exposes this only as package variables; every API in
// the process installs the same functions, so doing it once is enough.
func useProblems() {
	installErrors.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			p := newProblem(status, codeOfStatus(status), msg)
			if status >= 500 {
				p.Detail = "internal error"
				return p // causes stay in the logs, never in responses
			}
			for _, e := range errs {
				if e == nil {
					continue
				}
				var d huma.ErrorDetailer
				if errors.As(e, &d) {
					p.Errors = append(p.Errors, d.ErrorDetail())
				} else {
					p.Errors = append(p.Errors, &huma.ErrorDetail{Message: e.Error()})
				}
			}
			return p
		}
		huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			se := huma.NewError(status, msg, errs...)
			if p, ok := se.(*Problem); ok && ctx != nil {
				p.RequestID = requestIDOf(ctx.Context())
			}
			return se
		}
	})
}

// problemOf translates any error from a service into a Problem; op names the
// operation's parameters so an invalid field's location says where it was.
func (s *server) problemOf(ctx context.Context, op *huma.Operation, err error) *Problem {
	code := apperr.CodeOf(err)
	status, ok := statusOf[code]
	if !ok || code == apperr.Internal {
		rid := requestIDOf(ctx)
		s.log.ErrorContext(ctx, "api: internal error", "request_id", rid, "err", err)
		p := newProblem(http.StatusInternalServerError, string(apperr.Internal),
			"internal error; quote the request id when reporting it")
		p.RequestID = rid
		return p
	}
	p := newProblem(status, string(code), err.Error())
	p.RequestID = requestIDOf(ctx)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Field != "" {
		p.Errors = []*huma.ErrorDetail{{Message: ae.Message, Location: locationOf(op, ae.Field)}}
	}
	var funds *economy.InsufficientFundsError
	var cool *economy.CooldownError
	var claimed *economy.AlreadyClaimedError
	var full *squads.FullError
	var elig *squads.NotEligibleError
	switch {
	case errors.As(err, &funds):
		p.Balance, p.Needed = &funds.Balance, &funds.Needed
	case errors.As(err, &cool):
		p.retryAfter(cool.Remaining)
	case errors.As(err, &claimed):
		at := claimed.NextAt.UTC()
		p.NextAt = &at
		p.retryAfter(claimed.Remaining)
	case errors.As(err, &full):
		p.MaxMembers = &full.Max
	case errors.As(err, &elig):
		p.Balance, p.Minimum = &elig.Balance, &elig.Minimum
	}
	if code == apperr.Unavailable && p.RetryAfterSeconds == nil {
		p.retryAfter(time.Second)
	}
	return p
}

// retryAfter sets both the header and the body field, in whole seconds
// rounded up so a client that waits exactly that long succeeds.
func (p *Problem) retryAfter(d time.Duration) {
	secs := max(int64(math.Ceil(d.Seconds())), 1)
	p.RetryAfterSeconds = &secs
	p.setHeader("Retry-After", strconv.FormatInt(secs, 10))
}

// locationOf says where field came from: a path, query or header parameter
// of the operation, or else the body.
func locationOf(op *huma.Operation, field string) string {
	if op != nil {
		for _, prm := range op.Parameters {
			if prm.Name == field {
				return prm.In + "." + field
			}
		}
	}
	return "body." + field
}

// writeProblem answers from a middleware, before or instead of the handler.
func writeProblem(ctx huma.Context, p *Problem) {
	if p.RequestID == "" {
		p.RequestID = requestIDOf(ctx.Context())
	}
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.SetHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	_ = json.NewEncoder(ctx.BodyWriter()).Encode(p)
}

// writeProblemHTTP answers outside huma (unknown routes, panics).
func writeProblemHTTP(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.RequestID == "" {
		p.RequestID = requestIDOf(r.Context())
	}
	for k, vs := range p.headers {
		for _, v := range vs {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
