package bot

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/metrics"
)

// restTransport records every Discord REST call (each attempt, so a 429
// that disgo waits out and retries counts twice): latency by route template
// and method, the answer's status code, 429s, and an OpenTelemetry client
// span. The route is the path with ids, tokens and emoji replaced, so label
// values stay bounded and carry no secret.
type restTransport struct{ inner http.RoundTripper }

const tracerName = "github.com/smarterdev/smarterdev/internal/discord/bot"

func (t restTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	route := RouteTemplate(req.URL.Path)
	ctx, span := otel.Tracer(tracerName).Start(req.Context(), "discord "+req.Method+" "+route,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("url.template", route),
			attribute.String("server.address", req.URL.Hostname())))
	defer span.End()
	start := time.Now()
	resp, err := t.inner.RoundTrip(req.WithContext(ctx))
	metrics.DiscordREST.WithLabelValues(route, req.Method).Observe(time.Since(start).Seconds())
	code := "error"
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		code = strconv.Itoa(resp.StatusCode)
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, resp.Status)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			metrics.DiscordRateLimited.WithLabelValues(route).Inc()
		}
	}
	metrics.DiscordRESTRequests.WithLabelValues(route, req.Method, code).Inc()
	return resp, err
}

// RouteTemplate turns a Discord REST path into its route template:
// "/api/v10/guilds/123/members/456/roles/789" is
// "/guilds/{id}/members/{id}/roles/{id}"; interaction and webhook tokens
// become {token}, reaction emoji {emoji}, and any other segment that is not
// a plain lower-case word {param}.
func RouteTemplate(path string) string {
	if i := strings.Index(path, "/api/v"); i >= 0 {
		rest := path[i+len("/api/v"):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		switch {
		case s == "":
		case isDigits(s):
			segs[i] = "{id}"
		case i >= 2 && (segs[i-2] == "interactions" || segs[i-2] == "webhooks"):
			segs[i] = "{token}"
		case i >= 1 && segs[i-1] == "reactions":
			segs[i] = "{emoji}"
		case !isWord(s):
			segs[i] = "{param}"
		}
	}
	return "/" + strings.Join(segs, "/")
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// isWord: the literal segments of Discord's routes ("members", "@me",
// "@original", "auto-moderation", "voice-states", "callback").
func isWord(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '-' && c != '_' && c != '@' {
			return false
		}
	}
	return true
}
