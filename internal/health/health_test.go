package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func up(context.Context) error { return nil }

func serve(t *testing.T, c *Checker) (int, Report, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var rep Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Code, rep, rec.Body.String()
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(c *Checker)
		wantCode   int
		wantStatus string
		wantComp   map[string]string
	}{
		{
			name:       "all up",
			setup:      func(c *Checker) { c.Require("database", up); c.Require("bus", up); c.Optional("cache", up) },
			wantCode:   200,
			wantStatus: StatusReady,
			wantComp:   map[string]string{"database": StatusUp, "bus": StatusUp, "cache": StatusUp},
		},
		{
			name: "required down",
			setup: func(c *Checker) {
				c.Require("database", func(context.Context) error { return errors.New("connection refused") })
				c.Require("bus", up)
			},
			wantCode:   503,
			wantStatus: StatusNotReady,
			wantComp:   map[string]string{"database": StatusDown, "bus": StatusUp},
		},
		{
			name: "optional down degrades",
			setup: func(c *Checker) {
				c.Require("database", up)
				c.Optional("tracing", func(context.Context) error { return errors.New("collector unreachable") })
			},
			wantCode:   200,
			wantStatus: StatusDegraded,
			wantComp:   map[string]string{"database": StatusUp, "tracing": StatusDegraded},
		},
		{
			name: "required and optional down",
			setup: func(c *Checker) {
				c.Require("database", func(context.Context) error { return errors.New("down") })
				c.Optional("tracing", func(context.Context) error { return errors.New("down") })
			},
			wantCode:   503,
			wantStatus: StatusNotReady,
			wantComp:   map[string]string{"database": StatusDown, "tracing": StatusDegraded},
		},
		{
			name:       "panic is a failure",
			setup:      func(c *Checker) { c.Require("bus", func(context.Context) error { panic("boom") }) },
			wantCode:   503,
			wantStatus: StatusNotReady,
			wantComp:   map[string]string{"bus": StatusDown},
		},
		{
			name:       "no components",
			setup:      func(*Checker) {},
			wantCode:   200,
			wantStatus: StatusReady,
			wantComp:   map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			tt.setup(c)
			code, rep, body := serve(t, c)
			if code != tt.wantCode || rep.Status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d %s: %s", code, rep.Status, tt.wantCode, tt.wantStatus, body)
			}
			if len(rep.Components) != len(tt.wantComp) {
				t.Fatalf("components: %s", body)
			}
			for name, want := range tt.wantComp {
				got := rep.Components[name]
				if got.Status != want {
					t.Errorf("%s: status %q, want %q", name, got.Status, want)
				}
				if (want == StatusUp) != (got.Error == "") {
					t.Errorf("%s: error %q with status %q", name, got.Error, got.Status)
				}
			}
		})
	}
}

func TestTimeoutAndConcurrency(t *testing.T) {
	c := New(Options{Timeout: 100 * time.Millisecond})
	// Ignores its context: the checker must still give up on it.
	c.Require("stuck", func(context.Context) error { time.Sleep(2 * time.Second); return nil })
	for _, name := range []string{"a", "b", "c"} {
		c.Require(name, func(ctx context.Context) error {
			select {
			case <-time.After(80 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	start := time.Now()
	rep := c.Check(context.Background())
	if d := time.Since(start); d > time.Second {
		t.Fatalf("checks took %s: not concurrent or not bounded", d)
	}
	if rep.Ready() || rep.Components["stuck"].Error != "no answer within 100ms" {
		t.Fatalf("stuck component: %+v", rep)
	}
	for _, name := range []string{"a", "b", "c"} {
		if rep.Components[name].Status != StatusUp {
			t.Fatalf("%s: %+v", name, rep.Components[name])
		}
	}
}

func TestErrorsAreSanitised(t *testing.T) {
	const password = "hunter2secret"
	c := New(Options{Redact: []string{"tok.en." + password, password}})
	c.Require("database", func(context.Context) error {
		return errors.New(`failed to connect to postgres://bob:` + password + `@db:5432/x: dial tcp: refused`)
	})
	c.Require("dsn", func(context.Context) error {
		return errors.New("host=db user=bob password=" + password + " sslmode=off: refused")
	})
	c.Require("echo", func(context.Context) error { return errors.New("bad token tok.en." + password) })
	c.Require("long", func(context.Context) error { return errors.New(strings.Repeat("x", 1000) + "\nsecond line") })
	_, rep, body := serve(t, c)
	if strings.Contains(body, password) {
		t.Fatalf("report leaks a secret: %s", body)
	}
	if got := rep.Components["database"].Error; got != "failed to connect to postgres://[redacted]@db:5432/x: dial tcp: refused" {
		t.Errorf("database error: %q", got)
	}
	if got := rep.Components["echo"].Error; got != "bad token [redacted]" {
		t.Errorf("echo error: %q", got)
	}
	if got := rep.Components["long"].Error; len(got) > maxErrorLen+3 || strings.Contains(got, "\n") {
		t.Errorf("long error not shortened: %d bytes", len(got))
	}
}

func TestDuplicateNamePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("want a panic")
		}
	}()
	c := New(Options{})
	c.Require("database", up)
	c.Optional("database", up)
}
