// Package logging builds the process logger: slog JSON in production and text
// in dev mode, a level that can change at run time, secrets masked, and every
// record enriched from its context (request id, trace and span ids, guild,
// shard and whatever an adapter attached with With).
//
// Add a field to every line of a request or an event with
//
//	ctx = logging.With(ctx, "guild", guildID, "shard", shardID)
//
// and log with the *Context methods (log.InfoContext(ctx, ...)).
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Options configures New.
type Options struct {
	Format string       // "json" (default) or "text"
	Level  slog.Leveler // a *slog.LevelVar to change it at run time; default info
	// Secrets are values masked wherever they appear in a string attribute
	// (a driver error that quotes a URL with its password).
	Secrets []string
}

// New returns a logger writing to w. Its level can be read back with LevelOf.
func New(w io.Writer, o Options) *slog.Logger {
	lv, ok := o.Level.(*slog.LevelVar)
	if !ok {
		lv = new(slog.LevelVar)
		if o.Level != nil {
			lv.Set(o.Level.Level())
		}
	}
	var secrets []string
	for _, s := range o.Secrets {
		if len(s) >= 4 { // masking a 1-3 character value would mangle every line
			secrets = append(secrets, s)
		}
	}
	hopts := &slog.HandlerOptions{Level: lv, ReplaceAttr: redactor(secrets)}
	var h slog.Handler
	if o.Format == "text" {
		h = slog.NewTextHandler(w, hopts)
	} else {
		h = slog.NewJSONHandler(w, hopts)
	}
	return slog.New(&Handler{inner: h, level: lv})
}

// LevelOf returns the run-time level of a logger made by New, or nil.
func LevelOf(l *slog.Logger) *slog.LevelVar {
	if l == nil {
		return nil
	}
	if h, ok := l.Handler().(*Handler); ok {
		return h.level
	}
	return nil
}

// Handler adds the context's fields to every record it passes on.
type Handler struct {
	inner slog.Handler
	level *slog.LevelVar
}

// NewHandler wraps inner so that records carry their context's fields.
func NewHandler(inner slog.Handler) *Handler { return &Handler{inner: inner} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
		if f, ok := ctx.Value(fieldsKey{}).([]slog.Attr); ok {
			r.AddAttrs(f...)
		}
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(as), level: h.level}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), level: h.level}
}

type fieldsKey struct{}
type requestIDKey struct{}

// With returns a context whose log records carry args (key-value pairs or
// slog.Attr values, as slog.Logger.With takes them), after any fields the
// context already had. Conventional keys: "guild", "shard", "user" is NOT one
// (logs are kept; ids of people stay out of them unless needed).
func With(ctx context.Context, args ...any) context.Context {
	add := slog.Group("", args...).Value.Group()
	if len(add) == 0 {
		return ctx
	}
	old, _ := ctx.Value(fieldsKey{}).([]slog.Attr)
	merged := make([]slog.Attr, 0, len(old)+len(add))
	merged = append(append(merged, old...), add...)
	return context.WithValue(ctx, fieldsKey{}, merged)
}

// WithRequestID returns a context whose records carry the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the context's request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// sensitive reports whether an attribute key names a secret.
func sensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"token", "secret", "password", "passwd", "authorization", "api_key", "apikey", "cookie", "private_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Redacted replaces a masked value.
const Redacted = "[redacted]"

// redactor masks attributes whose key names a secret, and any known secret
// value inside a string attribute.
func redactor(secrets []string) func([]string, slog.Attr) slog.Attr {
	return func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindGroup {
			return a
		}
		if sensitive(a.Key) {
			return slog.String(a.Key, Redacted)
		}
		if len(secrets) == 0 {
			return a
		}
		var s string
		switch a.Value.Kind() {
		case slog.KindString:
			s = a.Value.String()
		case slog.KindAny:
			e, ok := a.Value.Any().(error)
			if !ok {
				return a
			}
			s = e.Error()
		default:
			return a
		}
		changed := false
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, Redacted)
				changed = true
			}
		}
		if changed {
			return slog.String(a.Key, s)
		}
		return a
	}
}
