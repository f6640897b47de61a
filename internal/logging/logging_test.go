package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func lastLine(t *testing.T, b *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func TestContextFieldsAndRedaction(t *testing.T) {
	var b bytes.Buffer
	log := New(&b, Options{Secrets: []string{"hunter2secret"}})
	ctx := With(WithRequestID(context.Background(), "req-1"), "guild", int64(7), "shard", 0)
	ctx = With(ctx, slog.String("event", "MESSAGE_CREATE"))
	log.InfoContext(ctx, "connect failed: postgres://bob:hunter2secret@db", "api_key", "sdk_abc", "Authorization", "Bearer x",
		"err", errors.New("dial postgres://bob:hunter2secret@db"), "discord_token", "abc")
	m := lastLine(t, &b)
	for k, want := range map[string]any{
		"request_id": "req-1", "guild": float64(7), "shard": float64(0), "event": "MESSAGE_CREATE",
		"api_key": Redacted, "Authorization": Redacted, "discord_token": Redacted,
		"err": "dial postgres://bob:[redacted]@db", "msg": "connect failed: postgres://bob:[redacted]@db",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if strings.Contains(b.String(), "hunter2secret") || strings.Contains(b.String(), "sdk_abc") {
		t.Fatalf("secret leaked: %s", b.String())
	}
}

func TestLevelChangesAtRunTime(t *testing.T) {
	var b bytes.Buffer
	lv := new(slog.LevelVar)
	log := New(&b, Options{Format: "text", Level: lv})
	log.Debug("hidden")
	if b.Len() != 0 {
		t.Fatalf("debug logged at info: %s", b.String())
	}
	LevelOf(log).Set(slog.LevelDebug)
	log.With("a", 1).Debug("shown")
	if !strings.Contains(b.String(), "shown") || !strings.Contains(b.String(), "a=1") {
		t.Fatalf("text output: %q", b.String())
	}
}

func TestMiddlewareRequestIDRouteAndLoopback(t *testing.T) {
	var b bytes.Buffer
	log := New(&b, Options{Level: slog.LevelDebug})
	lv := new(slog.LevelVar)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("abc"))
	})
	mux.Handle("/debug/log-level", LevelHandler(lv, log))
	h := Middleware(log, CaptureRoute(mux))

	req := httptest.NewRequest("GET", "/things/123", nil)
	req.Header.Set(HeaderRequestID, "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get(HeaderRequestID) != "abc-123" || rec.Code != http.StatusTeapot {
		t.Fatalf("response: %d %v", rec.Code, rec.Header())
	}
	m := lastLine(t, &b)
	if m["msg"] != "http request" || m["route"] != "/things/{id}" || m["status"] != float64(418) || m["bytes"] != float64(3) || m["request_id"] != "abc-123" {
		t.Fatalf("access line %v", m)
	}
	if !strings.Contains(b.String(), `"msg":"inside","request_id":"abc-123"`) {
		t.Fatalf("handler line lacks the request id: %s", b.String())
	}

	req = httptest.NewRequest("POST", "/debug/log-level?level=warn", nil)
	req.RemoteAddr = "192.0.2.1:5555"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("remote client: %d", rec.Code)
	}
	req.RemoteAddr = "[::1]:5555"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || lv.Level() != slog.LevelWarn {
		t.Fatalf("loopback client: %d %s", rec.Code, lv.Level())
	}
}

func TestPanicIsA500WithALogLine(t *testing.T) {
	var b bytes.Buffer
	log := New(&b, Options{})
	h := Middleware(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || !strings.Contains(b.String(), "handler panicked") || !strings.Contains(b.String(), `"status":500`) {
		t.Fatalf("%d %s", rec.Code, b.String())
	}
}

// Request ids are 24 hex digits that a caller's header check accepts, and
// they do not repeat.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100_000 {
		id := NewRequestID()
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" || !SaneRequestID(id) {
			t.Fatalf("request id %q", id)
		}
		if seen[id] {
			t.Fatalf("request id %q drawn twice", id)
		}
		seen[id] = true
	}
}
