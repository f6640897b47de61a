// Package health answers /readyz: it runs named component checks concurrently,
// each under its own timeout, and reports which are up. Required components
// take the process out of rotation (503) when they fail; optional ones only
// mark it degraded (200), so a flaky extra never stops traffic.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Check reports a component's health; nil means up. It must return when ctx ends.
type Check func(ctx context.Context) error

// Statuses of a component and of the whole report.
const (
	StatusUp       = "up"
	StatusDown     = "down"     // a required component failed
	StatusDegraded = "degraded" // an optional component failed

	StatusReady    = "ready"
	StatusNotReady = "not_ready"
)

// DefaultTimeout bounds one check, so one hung dependency cannot hang the probe.
const DefaultTimeout = 2 * time.Second

// Options configures a Checker; zero values take the defaults.
type Options struct {
	Timeout time.Duration // per component; default DefaultTimeout
	// Redact lists values (secrets) that must never appear in a report even if
	// a dependency's error message repeats them.
	Redact []string
}

// Checker holds the components. Components may be added while it serves.
type Checker struct {
	timeout time.Duration
	redact  []string

	mu         sync.RWMutex
	components []component
}

type component struct {
	name     string
	check    Check
	optional bool
}

// New returns a Checker with no components.
func New(o Options) *Checker {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	var redact []string
	for _, s := range o.Redact {
		if s != "" {
			redact = append(redact, s)
		}
	}
	return &Checker{timeout: o.Timeout, redact: redact}
}

// Require adds a component the process cannot serve without.
func (c *Checker) Require(name string, check Check) { c.add(name, check, false) }

// Optional adds a component whose failure degrades the process but keeps it ready.
func (c *Checker) Optional(name string, check Check) { c.add(name, check, true) }

func (c *Checker) add(name string, check Check, optional bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, existing := range c.components {
		if existing.name == name {
			panic(fmt.Sprintf("health: component %q added twice", name))
		}
	}
	c.components = append(c.components, component{name: name, check: check, optional: optional})
}

// Report is the /readyz body.
type Report struct {
	Status     string                     `json:"status"` // ready, degraded or not_ready
	Components map[string]ComponentReport `json:"components"`
}

// Ready reports whether the process should receive traffic.
func (r Report) Ready() bool { return r.Status != StatusNotReady }

// ComponentReport is one component's state.
type ComponentReport struct {
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"` // short and sanitised; never a secret
}

// Check runs every component concurrently and waits for all of them.
func (c *Checker) Check(ctx context.Context) Report {
	c.mu.RLock()
	components := append([]component(nil), c.components...)
	c.mu.RUnlock()

	results := make([]ComponentReport, len(components))
	var wg sync.WaitGroup
	for i, comp := range components {
		wg.Go(func() { results[i] = c.run(ctx, comp) })
	}
	wg.Wait()

	rep := Report{Status: StatusReady, Components: make(map[string]ComponentReport, len(components))}
	for i, comp := range components {
		r := results[i]
		rep.Components[comp.name] = r
		switch {
		case r.Status == StatusDown:
			rep.Status = StatusNotReady
		case r.Status == StatusDegraded && rep.Status == StatusReady:
			rep.Status = StatusDegraded
		}
	}
	return rep
}

func (c *Checker) run(ctx context.Context, comp component) (rep ComponentReport) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	err := c.call(ctx, comp.check)
	rep.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err == nil {
		rep.Status = StatusUp
		return rep
	}
	rep.Status = StatusDown
	if comp.optional {
		rep.Status = StatusDegraded
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		rep.Error = fmt.Sprintf("no answer within %s", c.timeout)
	} else {
		rep.Error = Sanitize(err.Error(), c.redact...)
	}
	return rep
}

// call runs check, turning a panic into a failure and giving up when ctx
// ends even if the check ignores it.
func (c *Checker) call(ctx context.Context, check Check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handler serves the report: 200 when ready or degraded, 503 when not ready.
func (c *Checker) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := c.Check(r.Context())
		code := http.StatusOK
		if !rep.Ready() {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(rep)
	})
}

var (
	userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@`)
	passwordRE = regexp.MustCompile(`(?i)\b(password|passwd|pwd|token|secret)=[^\s&]*`)
)

// maxErrorLen keeps a report small; the full error belongs in the logs.
const maxErrorLen = 200

// Sanitize shortens a dependency's error for a report that anyone who can
// reach /readyz may read: Scrub, on one line, at most maxErrorLen bytes.
func Sanitize(msg string, secrets ...string) string {
	msg = strings.Join(strings.Fields(Scrub(msg, secrets...)), " ")
	if len(msg) > maxErrorLen {
		msg = strings.ToValidUTF8(msg[:maxErrorLen], "") + "..."
	}
	return msg
}

// Scrub removes URL credentials, key=value passwords and the given secret
// values from a message.
func Scrub(msg string, secrets ...string) string {
	// Longest first, so a URL is masked whole before its password alone.
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	msg = userinfoRE.ReplaceAllString(msg, "${1}[redacted]@")
	return passwordRE.ReplaceAllString(msg, "${1}=[redacted]")
}
