package app

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/outbox"
)

// watchedQueues are the job queues whose dead letters raise an alert.
var watchedQueues = []string{jobs.QueueRoles, jobs.QueueModeration, jobs.QueueModLog}

// wireAlerts starts the worker's built-in alerting (docs/observability.md):
// for single-machine deployments without Prometheus and Alertmanager.
func (a *App) wireAlerts(s *Services) {
	cfg := a.cfg.Alerts
	var receivers []alerting.Receiver
	if v := cfg.DiscordWebhook.Value(); v != "" {
		receivers = append(receivers, alerting.Discord{URL: v})
	}
	if v := cfg.SlackWebhook.Value(); v != "" {
		receivers = append(receivers, alerting.Slack{URL: v})
	}
	if v := cfg.PagerDutyKey.Value(); v != "" {
		host, _ := os.Hostname()
		receivers = append(receivers, alerting.PagerDuty{RoutingKey: v, URL: cfg.PagerDutyURL, Source: "smarterdev@" + host})
	}
	conds := []alerting.Condition{
		{Name: "ReadinessFailing", Severity: "critical", Runbook: "docs/runbook.md#readiness-failing", For: 2 * time.Minute,
			Check: func(ctx context.Context) (string, error) {
				rep := a.health.Check(ctx)
				if rep.Ready() {
					return "", nil
				}
				var down []string
				for name, c := range rep.Components {
					if c.Status != "up" {
						down = append(down, name+" ("+c.Error+")")
					}
				}
				sort.Strings(down)
				return "not ready: " + strings.Join(down, ", "), nil
			}},
		{Name: "DeadLetters", Severity: "warning", Runbook: "docs/runbook.md#dead-letters", Check: a.deadLettersCheck},
		{Name: "APIKeyExpiring", Severity: "warning", Runbook: "docs/runbook.md#api-key-expiring", Check: keysExpiringCheck(s.APIKeys, time.Now)},
		{Name: "OutboxStuck", Severity: "critical", Runbook: "docs/runbook.md#outbox-lagging", For: time.Minute,
			Check: func(ctx context.Context) (string, error) {
				lag, err := outbox.Lag(ctx, a.db)
				if err != nil || lag.Oldest < outboxStuckAfter {
					return "", err
				}
				return fmt.Sprintf("%d jobs waiting in the outbox, the oldest for %s", lag.Pending, lag.Oldest.Round(time.Second)), nil
			}},
	}
	conds = append(conds, a.botDisconnectedCondition()...) // botstatus.go
	conds = append(conds, a.backupTooOldCondition()...)    // backup.go
	// Tests shorten every condition's For (Options.AlertFor).
	if a.opts.AlertFor > 0 {
		for i := range conds {
			conds[i].For = a.opts.AlertFor
		}
	}
	a.alerts = alerting.New(conds, receivers, alerting.Options{Interval: a.opts.AlertInterval, Repeat: cfg.Repeat, MuteUntil: cfg.MuteUntil,
		Logger:  a.log.With("component", "alerting"),
		Publish: alerting.Reports{DB: a.db, Instance: botstatus.Instance()}.Write}) // for the status page
	if len(receivers) == 0 {
		a.log.Info("built-in alerting has no receiver: set SMARTERDEV_ALERT_DISCORD_WEBHOOK, _SLACK_WEBHOOK or _PAGERDUTY_ROUTING_KEY to be notified; conditions are still logged")
	}
	a.Go("alerting", a.alerts.Run)
}

// keysExpiringCheck is the APIKeyExpiring condition: working keys whose
// lifetime ends within apikeys.ExpiryWarning, named so the operator knows which
// integrations to renew.
func keysExpiringCheck(svc *apikeys.Service, now func() time.Time) alerting.Check {
	return func(ctx context.Context) (string, error) {
		keys, err := svc.Expiring(ctx, now(), apikeys.ExpiryWarning)
		if err != nil || len(keys) == 0 {
			return "", err
		}
		return expiringText(keys), nil
	}
}

func expiringText(keys []apikeys.Key) string {
	var names []string
	for i, k := range keys {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(keys)-i))
			break
		}
		names = append(names, fmt.Sprintf("%q (%s) on %s", k.Name, k.Prefix, k.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")))
	}
	what := "1 API key expires"
	if len(keys) > 1 {
		what = fmt.Sprintf("%d API keys expire", len(keys))
	}
	return fmt.Sprintf("%s within %d days: %s; rotate (smarterdev apikey rotate PREFIX, or the dashboard's API keys page) and deploy the new key",
		what, int(apikeys.ExpiryWarning.Hours()/24), strings.Join(names, ", "))
}

// deadLettersCheck is the DeadLetters condition: jobs dead-lettered on a
// watched queue. When the queues cannot be read because the bus is down, it
// reports nothing: the bus is a required readiness component, so an outage
// pages once, as ReadinessFailing after its For, not also as DeadLetters
// (which has no For) at the first evaluation. A read that fails while the
// bus answers is this check's own failure, reported as such.
func (a *App) deadLettersCheck(ctx context.Context) (string, error) {
	var parts []string
	for _, q := range watchedQueues {
		st, err := a.bus.Stats(ctx, q)
		if err != nil {
			if a.bus.Ping(ctx) != nil {
				return "", nil // the bus is down: ReadinessFailing's to report
			}
			return "", err
		}
		if st.Dead > 0 {
			parts = append(parts, fmt.Sprintf("%d on %s", st.Dead, q))
		}
	}
	if len(parts) == 0 {
		return "", nil
	}
	return "dead-lettered jobs: " + strings.Join(parts, ", "), nil
}
