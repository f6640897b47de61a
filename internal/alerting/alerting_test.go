package alerting_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
)

// receiver is a local HTTP endpoint standing in for Discord, Slack or
// PagerDuty; it records bodies and can be told to fail.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	fail   atomic.Bool
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		raw, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Errorf("receiver got non-JSON: %s", raw)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any{}, r.bodies...)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func flag(p *atomic.Value) alerting.Check {
	return func(context.Context) (string, error) { s, _ := p.Load().(string); return s, nil }
}

func setup(t *testing.T, mute time.Time) (*alerting.Alerter, *clock, *atomic.Value, *atomic.Value, *receiver, *receiver, *receiver) {
	var redis, dead atomic.Value
	redis.Store("")
	dead.Store("")
	discord, slack, pd := newReceiver(t), newReceiver(t), newReceiver(t)
	c := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	a := alerting.New([]alerting.Condition{
		{Name: "ReadinessFailing", Severity: "critical", Runbook: "docs/runbook.md#readinessfailing", For: time.Minute, Check: flag(&redis)},
		{Name: "DeadLetters", Severity: "warning", Check: flag(&dead)},
	}, []alerting.Receiver{
		alerting.Discord{URL: discord.srv.URL},
		alerting.Slack{URL: slack.srv.URL},
		alerting.PagerDuty{RoutingKey: "key123", URL: pd.srv.URL, Source: "test"},
	}, alerting.Options{Repeat: time.Hour, MuteUntil: mute, Now: c.now})
	return a, c, &redis, &dead, discord, slack, pd
}

func TestFireRepeatResolve(t *testing.T) {
	ctx := context.Background()
	a, c, redis, dead, discord, slack, pd := setup(t, time.Time{})
	a.Evaluate(ctx)
	if len(discord.got()) != 0 {
		t.Fatal("notified with nothing wrong")
	}
	// Both conditions go wrong; readiness must hold for a minute first.
	redis.Store("redis: connection refused")
	dead.Store("3 dead letters on roles")
	a.Evaluate(ctx)
	if n := len(discord.got()); n != 1 || !strings.Contains(discord.got()[0]["embeds"].([]any)[0].(map[string]any)["title"].(string), "DeadLetters") {
		t.Fatalf("discord after the first evaluation: %v", discord.got())
	}
	c.advance(61 * time.Second)
	a.Evaluate(ctx)
	if n := len(discord.got()); n != 2 {
		t.Fatalf("readiness should fire after holding for a minute: %d messages", n)
	}
	// Grouping: a later evaluation with both firing sends nothing more.
	c.advance(time.Minute)
	a.Evaluate(ctx)
	a.Evaluate(ctx)
	if n := len(slack.got()); n != 2 {
		t.Fatalf("slack should have exactly 2 messages (deduplicated), got %d", n)
	}
	// Repeat after an hour, both alerts grouped in one message.
	c.advance(time.Hour)
	a.Evaluate(ctx)
	msgs := slack.got()
	if len(msgs) != 3 || !strings.Contains(msgs[2]["text"].(string), "ReadinessFailing") || !strings.Contains(msgs[2]["text"].(string), "DeadLetters") {
		t.Fatalf("repeat should group both alerts: %v", msgs)
	}
	// Resolution.
	redis.Store("")
	c.advance(time.Minute)
	a.Evaluate(ctx)
	last := slack.got()[len(slack.got())-1]["text"].(string)
	if !strings.Contains(last, "RESOLVED: ReadinessFailing") {
		t.Fatalf("resolution not sent: %q", last)
	}
	if len(a.Firing()) != 1 {
		t.Fatalf("firing: %+v", a.Firing())
	}
	// PagerDuty: trigger events deduplicated by alert, then a resolve.
	var actions []string
	for _, ev := range pd.got() {
		if ev["routing_key"] != "key123" {
			t.Fatalf("routing key: %v", ev)
		}
		actions = append(actions, ev["event_action"].(string)+":"+ev["dedup_key"].(string))
	}
	want := "trigger:smarterdev/DeadLetters trigger:smarterdev/ReadinessFailing trigger:smarterdev/ReadinessFailing trigger:smarterdev/DeadLetters resolve:smarterdev/ReadinessFailing"
	if strings.Join(actions, " ") != want {
		t.Fatalf("pagerduty events:\n got %s\nwant %s", strings.Join(actions, " "), want)
	}
}

func TestFailingReceiverIsRetriedAndDoesNotBlockOthers(t *testing.T) {
	ctx := context.Background()
	a, c, _, dead, discord, slack, _ := setup(t, time.Time{})
	discord.fail.Store(true)
	dead.Store("1 dead letter")
	a.Evaluate(ctx)
	if len(slack.got()) != 1 {
		t.Fatal("slack must get the alert while discord is down")
	}
	c.advance(30 * time.Second)
	a.Evaluate(ctx)
	if len(discord.got()) != 0 || len(slack.got()) != 1 {
		t.Fatalf("nothing new expected yet: discord %d, slack %d", len(discord.got()), len(slack.got()))
	}
	discord.fail.Store(false)
	c.advance(30 * time.Second)
	a.Evaluate(ctx)
	if len(discord.got()) != 1 || len(slack.got()) != 1 {
		t.Fatalf("discord should get the owed alert once it is back, slack nothing more: %d, %d", len(discord.got()), len(slack.got()))
	}
}

func TestMuteWindow(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a, c, _, dead, discord, _, _ := setup(t, start.Add(30*time.Minute))
	dead.Store("2 dead letters")
	a.Evaluate(ctx)
	c.advance(10 * time.Minute)
	a.Evaluate(ctx)
	if len(discord.got()) != 0 {
		t.Fatal("notified during the mute window")
	}
	c.advance(25 * time.Minute) // the mute is over and it still fires
	a.Evaluate(ctx)
	if len(discord.got()) != 1 {
		t.Fatalf("an alert still firing after the mute should be announced: %d", len(discord.got()))
	}
}

func TestResolvedBeforeAnnouncedSaysNothing(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a, c, _, dead, discord, _, _ := setup(t, start.Add(30*time.Minute))
	dead.Store("1 dead letter")
	a.Evaluate(ctx)
	dead.Store("")
	c.advance(time.Minute)
	a.Evaluate(ctx)
	c.advance(time.Hour)
	a.Evaluate(ctx)
	if len(discord.got()) != 0 {
		t.Fatalf("an alert that fired and resolved within the mute should stay silent: %v", discord.got())
	}
}

// TestReport: what the status page is told after each evaluation, published
// through Options.Publish: each condition ok, pending or firing with its
// summary and since; a receiver's failed delivery until one succeeds; the
// mute; and when the report is stale.
func TestReport(t *testing.T) {
	ctx := context.Background()
	var readiness, dead atomic.Value
	readiness.Store("")
	dead.Store("")
	discord := newReceiver(t)
	c := &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	var published []alerting.Report
	a := alerting.New([]alerting.Condition{
		{Name: "ReadinessFailing", Severity: "critical", Runbook: "docs/runbook.md#readiness-failing", For: time.Minute, Check: flag(&readiness)},
		{Name: "DeadLetters", Severity: "warning", Check: flag(&dead)},
	}, []alerting.Receiver{alerting.Discord{URL: discord.srv.URL + "/api/webhooks/1/secret-token"}},
		alerting.Options{Interval: 30 * time.Second, MuteUntil: c.t.Add(time.Hour), Now: c.now,
			Publish: func(_ context.Context, r alerting.Report) error { published = append(published, r); return nil }})
	if r := a.Report(); !r.EvaluatedAt.IsZero() || len(r.Conditions) != 2 || r.Conditions[0].State != alerting.StateOK {
		t.Fatalf("before any evaluation: %+v", r)
	}
	states := func(r alerting.Report) string {
		var s []string
		for _, c := range r.Conditions {
			s = append(s, c.Name+"="+c.State)
		}
		return strings.Join(s, " ")
	}

	a.Evaluate(ctx)
	if len(published) != 1 || states(published[0]) != "ReadinessFailing=ok DeadLetters=ok" || !published[0].EvaluatedAt.Equal(c.t) ||
		published[0].IntervalSeconds != 30 || !published[0].MutedUntil.Equal(c.t.Add(time.Hour)) {
		t.Fatalf("first report: %+v", published)
	}

	readiness.Store("not ready: bus (connection refused)")
	dead.Store("dead-lettered jobs: 2 on roles")
	started := c.t.Add(30 * time.Second)
	c.advance(30 * time.Second)
	a.Evaluate(ctx)
	r := published[len(published)-1]
	if states(r) != "ReadinessFailing=pending DeadLetters=firing" {
		t.Fatalf("states: %s", states(r))
	}
	if p := r.Conditions[0]; !p.Since.Equal(started) || p.Summary != "not ready: bus (connection refused)" || p.Runbook != "docs/runbook.md#readiness-failing" {
		t.Fatalf("pending: %+v", p)
	}
	if f := r.Firing(); len(f) != 1 || f[0].Name != "DeadLetters" || f[0].Summary != "dead-lettered jobs: 2 on roles" || !f[0].Since.Equal(started) {
		t.Fatalf("firing: %+v", f)
	}
	if len(r.Receivers) != 1 || r.Receivers[0].Name != "discord" || r.Receivers[0].LastError != "" {
		t.Fatalf("receivers while muted: %+v", r.Receivers)
	}

	// After the mute the receiver fails: the report says so, without the
	// webhook's address, until a delivery succeeds.
	discord.fail.Store(true)
	c.advance(time.Hour)
	a.Evaluate(ctx)
	r = published[len(published)-1]
	if states(r) != "ReadinessFailing=firing DeadLetters=firing" || !r.Conditions[0].Since.Equal(started) || !r.MutedUntil.IsZero() {
		t.Fatalf("after the hold and the mute: %+v", r)
	}
	if rc := r.Receivers[0]; !strings.Contains(rc.LastError, "503") || !rc.FailedAt.Equal(c.t) || strings.Contains(rc.LastError, "secret-token") {
		t.Fatalf("failing receiver: %+v", rc)
	}
	discord.fail.Store(false)
	readiness.Store("")
	c.advance(30 * time.Second)
	a.Evaluate(ctx)
	r = published[len(published)-1]
	if states(r) != "ReadinessFailing=ok DeadLetters=firing" || r.Receivers[0].LastError != "" || r.Conditions[0].Summary != "" {
		t.Fatalf("after recovery: %+v", r)
	}

	// Stale once three evaluations and a minute have passed without one.
	if r.Stale(c.t.Add(150*time.Second)) || !r.Stale(c.t.Add(151*time.Second)) {
		t.Fatal("stale after 3 × 30 s + 1 min, not before")
	}
}

// TestPublishFailureDoesNotStopNotifications: a report the store refuses does not stop the
// evaluation or its notifications.
func TestPublishFailureDoesNotStopNotifications(t *testing.T) {
	var dead atomic.Value
	dead.Store("1 dead letter")
	slack := newReceiver(t)
	a := alerting.New([]alerting.Condition{{Name: "DeadLetters", Severity: "warning", Check: flag(&dead)}},
		[]alerting.Receiver{alerting.Slack{URL: slack.srv.URL}},
		alerting.Options{Logger: slog.New(slog.DiscardHandler), Publish: func(context.Context, alerting.Report) error { return errors.New("database is read-only") }})
	a.Evaluate(context.Background())
	if len(slack.got()) != 1 || len(a.Firing()) != 1 {
		t.Fatalf("slack %d, firing %d", len(slack.got()), len(a.Firing()))
	}
}
