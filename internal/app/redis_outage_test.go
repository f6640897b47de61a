package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/logging"
)

// tcpProxy forwards connections to upstream. cut closes its listener and
// every connection, so new ones are refused as if the server had died;
// restore listens on the same address again.
type tcpProxy struct {
	upstream string
	addr     string
	mu       sync.Mutex
	ln       net.Listener // nil while cut
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func newTCPProxy(t *testing.T, upstream string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{upstream: upstream, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.cut(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // cut while dialling
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
				p.mu.Lock()
				delete(p.conns, dst)
				delete(p.conns, src)
				p.mu.Unlock()
			}
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
	})
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", p.addr, err)
	}
	p.serve(ln)
}

// webhookReceiver records the JSON posted to its /slack and /discord paths.
type webhookReceiver struct {
	mu    sync.Mutex
	posts map[string][]string // path -> bodies
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.posts[req.URL.Path] = append(r.posts[req.URL.Path], string(body))
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// notified reports whether a post to path satisfies match.
func (r *webhookReceiver) notified(path string, match func(body string) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.posts[path] {
		if match(b) {
			return true
		}
	}
	return false
}

func (r *webhookReceiver) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	raw, _ := json.Marshal(r.posts)
	return string(raw)
}

// slackLine is the line of a Slack notification about alert name.
func slackLine(body, name string) string {
	var msg struct{ Text string }
	_ = json.Unmarshal([]byte(body), &msg)
	for l := range strings.Lines(msg.Text) {
		if strings.Contains(l, "*"+name+"*") {
			return l
		}
	}
	return ""
}

// discordField is the embed field of a Discord notification about alert name.
func discordField(body, name string) (title, value string) {
	var msg struct {
		Embeds []struct {
			Fields []struct{ Name, Value string }
		}
	}
	_ = json.Unmarshal([]byte(body), &msg)
	for _, e := range msg.Embeds {
		for _, f := range e.Fields {
			if strings.HasPrefix(f.Name, name+" — ") {
				return f.Name, f.Value
			}
		}
	}
	return "", ""
}

// The operator's drill (docs/runbook.md, "Readiness failing"): Redis dies,
// /readyz takes the worker out of rotation naming the bus, the built-in
// alerting notifies Slack and Discord, once: ReadinessFailing, not also
// DeadLetters, whose queues cannot be read meanwhile; Redis comes back,
// /readyz is ready again and both receivers hear that the alert resolved.
// The process rides the outage out: it stops cleanly afterwards.
func TestRedisOutageReadinessAndAlert(t *testing.T) {
	redistest.Options(t) // skips without Redis, fails with SMARTERDEV_REQUIRE_SERVICES=1
	upstream, err := url.Parse(os.Getenv("SMARTERDEV_TEST_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	port := upstream.Port()
	if port == "" {
		port = "6379"
	}
	proxy := newTCPProxy(t, net.JoinHostPort(upstream.Hostname(), port))
	viaProxy := *upstream
	viaProxy.Host = proxy.addr

	recv := &webhookReceiver{posts: map[string][]string{}}
	hooks := httptest.NewServer(recv)
	defer hooks.Close()

	env := sqliteEnv(t)
	env[config.EnvRedisURL] = viaProxy.String()
	env[config.EnvAlertSlackWebhook] = hooks.URL + "/slack"
	env[config.EnvAlertDiscordWebhook] = hooks.URL + "/discord"
	cfg, err := config.Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	logs := &buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, cfg, Options{Role: RoleWorker, AlertInterval: 100 * time.Millisecond, AlertFor: 500 * time.Millisecond,
		Logger: logging.New(logs, logging.Options{Format: "json", Level: slog.LevelInfo})})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("receiver got: %s", recv)
			t.Logf("logs:\n%s", logs)
		}
	}()

	readyz := func() (int, readiness) {
		t.Helper()
		code, body := get(t, "http://"+a.Addr()+"/readyz")
		var rep readiness
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("readyz body %q: %v", body, err)
		}
		return code, rep
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Healthy: ready, the bus (Redis) up, nothing about readiness sent.
	if code, rep := readyz(); code != http.StatusOK || rep.Status != "ready" || rep.Components["bus"].Status != "up" {
		t.Fatalf("before the outage: %d %+v", code, rep)
	}

	// Redis dies: the bus is a required component, so /readyz answers 503
	// (not_ready, bus down) while the database stays up.
	proxy.cut()
	var down readiness
	waitFor("/readyz to report the bus down", func() bool {
		code, rep := readyz()
		down = rep
		return code == http.StatusServiceUnavailable && rep.Status == "not_ready" && rep.Components["bus"].Status == "down"
	})
	if down.Components["bus"].Error == "" || down.Components["database"].Status != "up" {
		t.Errorf("during the outage: %+v, want the bus down with its error and the database up", down)
	}
	firing := func(b string) bool {
		l := slackLine(b, "ReadinessFailing")
		return strings.HasPrefix(l, ":rotating_light:") && strings.Contains(l, "not ready: bus (")
	}
	waitFor("a firing ReadinessFailing on Slack", func() bool { return recv.notified("/slack", firing) })
	waitFor("a firing ReadinessFailing on Discord", func() bool {
		return recv.notified("/discord", func(b string) bool {
			title, value := discordField(b, "ReadinessFailing")
			return strings.Contains(title, "firing since") && strings.Contains(value, "not ready: bus (") &&
				strings.Contains(value, "docs/runbook.md#readiness-failing")
		})
	})

	// The status page's source says the same: the worker's published report
	// has ReadinessFailing firing, and both receivers took their message.
	reports := alerting.Reports{DB: a.db}
	reported := func(want string) func() bool {
		return func() bool {
			r, ok, err := reports.Latest(ctx)
			if err != nil || !ok || len(r.Receivers) != 2 {
				return false
			}
			var firing []string
			for _, c := range r.Firing() {
				firing = append(firing, c.Name)
			}
			for _, rc := range r.Receivers {
				if rc.LastError != "" {
					return false
				}
			}
			return strings.Join(firing, ",") == want
		}
	}
	waitFor("a published report with ReadinessFailing firing", reported("ReadinessFailing"))

	// The outage pages once: by now DeadLetters has been evaluated for longer
	// than its For (every condition's is AlertFor here) without firing.
	for _, al := range a.alerts.Firing() {
		if al.Name != "ReadinessFailing" {
			t.Errorf("%s fires during the outage (%s); only ReadinessFailing should", al.Name, al.Summary)
		}
	}

	// Redis is back: ready again, and the alert resolves on both receivers.
	proxy.restore(t)
	waitFor("/readyz ready again", func() bool {
		code, rep := readyz()
		return code == http.StatusOK && rep.Status == "ready" && rep.Components["bus"].Status == "up"
	})
	waitFor("a resolved ReadinessFailing on Slack", func() bool {
		return recv.notified("/slack", func(b string) bool {
			return strings.HasPrefix(slackLine(b, "ReadinessFailing"), ":white_check_mark:")
		})
	})
	waitFor("a resolved ReadinessFailing on Discord", func() bool {
		return recv.notified("/discord", func(b string) bool {
			title, _ := discordField(b, "ReadinessFailing")
			return title == "ReadinessFailing — resolved"
		})
	})
	waitFor("no alert firing", func() bool { return len(a.alerts.Firing()) == 0 })
	waitFor("a published report with nothing firing", reported(""))
	// DeadLetters never fired, nor reached a receiver.
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"alert firing"`) && strings.Contains(l, `"alert":"DeadLetters"`) {
			t.Errorf("DeadLetters fired during the outage: %s", l)
		}
	}
	for _, path := range []string{"/slack", "/discord"} {
		if recv.notified(path, func(b string) bool { return strings.Contains(b, "DeadLetters") }) {
			t.Errorf("%s was notified of DeadLetters during the outage", path)
		}
	}

	cancel()
	if err := a.Wait(); err != nil {
		t.Fatalf("the worker did not stop cleanly after the outage: %v", err)
	}
}
