package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/web"
)

// The status page shows what the worker's built-in alerting last reported:
// nothing yet, what fires (what it says and its runbook for operators
// only: summaries name API keys), what is about to, receivers that fail or
// are missing, and a report gone stale because no worker evaluates.
func TestStatusPageAlerts(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	reports := func(d *web.Deps) { d.Alerts = alerting.Reports{DB: db} }
	r := newRig(t, db, rigOpts{status: reports})
	manager := r.signIn(r.demo.AdminID) // manages the demo guild, not an operator
	op := newRig(t, db, rigOpts{operators: []int64{int64(r.demo.AdminID)}, status: reports})
	operator := op.signIn(op.demo.AdminID)

	expect := func(who *browser, name string, want, notWant []string) {
		t.Helper()
		res := who.get("/status")
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", name, res.StatusCode)
		}
		for _, w := range want {
			if !strings.Contains(res.body, w) {
				t.Errorf("%s: the page lacks %q", name, w)
			}
		}
		for _, w := range notWant {
			if strings.Contains(res.body, w) {
				t.Errorf("%s: the page shows %q", name, w)
			}
		}
		if t.Failed() {
			t.Fatal(res.body)
		}
	}
	expect(manager, "no report", []string{`id="alerts-none"`, "has not reported yet"}, []string{"none firing"})

	ctx := context.Background()
	worker := alerting.Reports{DB: db, Instance: "worker-1"}
	now := time.Now().UTC()
	firing := alerting.Report{EvaluatedAt: now.Add(-10 * time.Second), IntervalSeconds: 30,
		Receivers: []alerting.ReceiverState{{Name: "discord"}, {Name: "slack", LastError: "the receiver answered 500", FailedAt: now.Add(-10 * time.Second)}},
		Conditions: []alerting.ConditionState{
			{Name: "ReadinessFailing", Severity: "critical", State: alerting.StatePending, Since: now.Add(-40 * time.Second), Summary: "not ready: bus"},
			{Name: "APIKeyExpiring", Severity: "warning", Runbook: "docs/runbook.md#api-key-expiring", State: alerting.StateFiring,
				Since: now.Add(-time.Hour), Summary: `1 API key expires within 7 days: "deploy-bot" (abcdef123456)`},
			{Name: "DeadLetters", Severity: "warning", State: alerting.StateOK},
		}}
	if err := worker.Write(ctx, firing); err != nil {
		t.Fatal(err)
	}
	expect(manager, "firing, guild manager", []string{`<span class="pill st-down">1 firing</span>`, "<strong>APIKeyExpiring</strong>", "st-degraded",
		`id="alerts-pending"`, "not firing yet: ReadinessFailing."},
		[]string{"deploy-bot", "runbook.md#api-key-expiring", "answered 500", "Notifies", "not evaluated"})
	expect(operator, "firing, operator", []string{"<strong>APIKeyExpiring</strong>", "deploy-bot", "abcdef123456", "docs/runbook.md#api-key-expiring",
		"Notifies discord, slack.", `id="alerts-receiver-failing"`, "slack: the last delivery failed", "the receiver answered 500"},
		[]string{"No receiver is configured", "not ready: bus"})

	// All clear, and nobody configured to hear about it.
	clear := alerting.Report{EvaluatedAt: now, IntervalSeconds: 30, Receivers: []alerting.ReceiverState{},
		Conditions: []alerting.ConditionState{{Name: "DeadLetters", Severity: "warning", State: alerting.StateOK}, {Name: "OutboxStuck", Severity: "critical", State: alerting.StateOK}}}
	if err := worker.Write(ctx, clear); err != nil {
		t.Fatal(err)
	}
	// Something going wrong, not yet firing: not "all hold".
	pending := clear
	pending.Conditions = []alerting.ConditionState{clear.Conditions[0], {Name: "OutboxStuck", Severity: "critical", State: alerting.StatePending, Since: now}}
	if err := worker.Write(ctx, pending); err != nil {
		t.Fatal(err)
	}
	expect(manager, "pending", []string{"none firing", "1 of 2 conditions hold", "not firing yet: OutboxStuck."}, []string{"All 2"})
	if err := worker.Write(ctx, clear); err != nil {
		t.Fatal(err)
	}
	expect(operator, "clear", []string{`<span class="pill st-up">none firing</span>`, `id="alerts-ok"`, "All 2 conditions hold", `id="alerts-no-receiver"`},
		[]string{"APIKeyExpiring", "alerts-receiver-failing"})
	expect(manager, "clear, guild manager", []string{"none firing"}, []string{"alerts-no-receiver"})

	// The worker stopped ten minutes ago: the page says the report is not current.
	firing.EvaluatedAt = now.Add(-10 * time.Minute)
	if err := (alerting.Reports{DB: db, Instance: "worker-1"}).Write(ctx, firing); err != nil {
		t.Fatal(err)
	}
	expect(manager, "stale", []string{`<span class="pill st-down">not evaluated</span>`, `id="alerts-stale"`, "Last evaluated 10m", "has stopped evaluating"},
		[]string{"none firing", "1 firing"})
}
