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
	"maps"
	"strings"
	"sync/atomic"

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
	secrets := newSecretSet(o.Secrets)
	// Redaction happens in Handler rather than as the inner handler's
	// ReplaceAttr: a ReplaceAttr takes slog off its fast paths for every
	// line, and Handler passes the common line (nothing to mask) untouched.
	hopts := &slog.HandlerOptions{Level: lv}
	out, _ := w.(*Buffered) // warnings and errors are written through
	if o.Format == "text" {
		return slog.New(&Handler{inner: slog.NewTextHandler(w, hopts), level: lv, redact: true, secrets: secrets, out: out})
	}
	lw := lineWriter(w) // shared with the access log's direct writer
	return slog.New(&Handler{inner: slog.NewJSONHandler(lw, hopts), level: lv, redact: true, secrets: secrets,
		fast: newFastJSON(lw, nil), out: out})
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

// Handler adds the context's fields to every record it passes on and, in a
// logger made by New, masks secrets: the value of an attribute whose key
// names a secret, and every known secret inside a string value, an error's
// text or the message.
type Handler struct {
	inner   slog.Handler
	level   *slog.LevelVar
	redact  bool
	secrets secretSet
	fast    *fastJSON // JSON made by New: the access log's direct writer (access.go)
	out     *Buffered // the output when New was given a Buffered: flushed after a warning or an error
}

// NewHandler wraps inner so that records carry their context's fields.
func NewHandler(inner slog.Handler) *Handler { return &Handler{inner: inner} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		var ids [3]slog.Attr // added at once: one growth of the record at most
		n := 0
		if id := RequestID(ctx); id != "" {
			ids[n] = slog.String("request_id", id)
			n++
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			ids[n], ids[n+1] = slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String())
			n += 2
		}
		if n > 0 {
			r.AddAttrs(ids[:n]...)
		}
		if f, ok := ctx.Value(fieldsKey{}).([]slog.Attr); ok {
			r.AddAttrs(f...)
		}
	}
	if h.redact {
		r = h.redactRecord(r)
	}
	err := h.inner.Handle(ctx, r)
	if h.out != nil && r.Level >= slog.LevelWarn {
		_ = h.out.Flush()
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if h.redact {
		out := make([]slog.Attr, len(as))
		for i, a := range as {
			out[i] = h.redactAttr(a)
		}
		as = out
	}
	var fast *fastJSON
	if h.fast != nil {
		if pre, ok := fastPre(h.fast.pre, as); ok {
			fast = newFastJSON(h.fast.w, pre)
		}
	}
	return &Handler{inner: h.inner.WithAttrs(as), level: h.level, redact: h.redact, secrets: h.secrets, fast: fast, out: h.out}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{inner: h.inner.WithGroup(name), level: h.level, redact: h.redact, secrets: h.secrets, out: h.out}
}

// redactRecord returns r with its secrets masked; r itself when it has none
// (a first pass only looks, so the common line costs no allocation).
func (h *Handler) redactRecord(r slog.Record) slog.Record {
	msg, masked := h.mask(r.Message)
	needs := masked
	if !needs {
		r.Attrs(func(a slog.Attr) bool {
			needs = h.needsRedaction(a)
			return !needs
		})
	}
	if !needs {
		return r
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return out
}

// needsRedaction reports whether redactAttr would change a (a value still
// to resolve counts: it is resolved once, when the record is rebuilt).
func (h *Handler) needsRedaction(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindLogValuer:
		return true
	case slog.KindGroup:
		for _, m := range a.Value.Group() {
			if h.needsRedaction(m) {
				return true
			}
		}
		return false
	}
	if isSensitive(a.Key) {
		return true
	}
	switch a.Value.Kind() {
	case slog.KindString:
		_, masked := h.mask(a.Value.String())
		return masked
	case slog.KindAny:
		if e, ok := a.Value.Any().(error); ok {
			_, masked := h.mask(e.Error())
			return masked
		}
	}
	return false
}

// redactAttr masks an attribute whose key names a secret, and the known
// secrets in a string value or an error's text; it resolves LogValuers and
// goes into groups.
func (h *Handler) redactAttr(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, m := range g {
			out[i] = h.redactAttr(m)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	if isSensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s, masked := h.mask(a.Value.String()); masked {
			return slog.String(a.Key, s)
		}
	case slog.KindAny:
		if e, ok := a.Value.Any().(error); ok {
			if s, masked := h.mask(e.Error()); masked {
				return slog.String(a.Key, s)
			}
		}
	}
	return a
}

// mask replaces every known secret in s.
func (h *Handler) mask(s string) (string, bool) {
	if len(s) < h.secrets.shortest { // too short to hold any: most values
		return s, false
	}
	masked := false
	for _, sec := range h.secrets.list {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
			masked = true
		}
	}
	return s, masked
}

// secretSet is the values a Handler masks and the length of the shortest:
// a value shorter than that cannot hold one, and most values logged
// (ids, addresses, routes) are, so they are passed over without a search.
type secretSet struct {
	list     []string
	shortest int
}

func newSecretSet(values []string) secretSet {
	var set secretSet
	for _, s := range values {
		if len(s) < 4 { // masking a 1-3 character value would mangle every line
			continue
		}
		set.list = append(set.list, s)
		if set.shortest == 0 || len(s) < set.shortest {
			set.shortest = len(s)
		}
	}
	return set
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

// RequestID is the context's request id (WithRequestID, else the request
// record of Middleware), or "".
func RequestID(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	if r := RequestOf(ctx); r != nil {
		return r.ID
	}
	return ""
}

// sensitiveKeys remembers sensitive(key) for the keys seen (they come from
// the code, so there are few): every attribute of every line, the access
// log's included, passes through the redactor.
var sensitiveKeys atomic.Pointer[map[string]bool]

// isSensitive is sensitive(key), remembered.
func isSensitive(key string) bool {
	m := sensitiveKeys.Load()
	if m != nil {
		if v, ok := (*m)[key]; ok {
			return v
		}
	}
	v := sensitive(key)
	if m == nil || len(*m) < 1000 { // copy on write: readers never lock
		next := make(map[string]bool, 1)
		if m != nil {
			next = maps.Clone(*m)
		}
		next[key] = v
		sensitiveKeys.CompareAndSwap(m, &next) // a lost race only loses the memo
	}
	return v
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
