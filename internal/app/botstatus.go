package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/backup"
	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/outbox"
)

// botStartGrace is how long after start the web role's "bot" component
// stays up while no bot process has ever reported (they start together).
const botStartGrace = 60 * time.Second

// heartbeatStore is where bot heartbeats live: Redis when the deployment
// has it (a key per process with a TTL), the database otherwise.
func (a *App) heartbeatStore() botstatus.Store {
	if a.redis != nil {
		return botstatus.Redis{Client: a.redis}
	}
	return botstatus.DB{DB: a.db}
}

// publishHeartbeat runs the bot role's heartbeat (internal/botstatus).
func (a *App) publishHeartbeat(b *bot.Bot) {
	instance := botstatus.Instance()
	host, _ := os.Hostname()
	store := a.heartbeatStore()
	a.Go("bot heartbeat", func(ctx context.Context) error {
		return botstatus.Publish(ctx, store, botstatus.Interval, a.log.With("component", "heartbeat"), func() botstatus.Heartbeat {
			return heartbeatOf(b.Status(), instance, host)
		})
	})
}

func heartbeatOf(st bot.Status, instance, host string) botstatus.Heartbeat {
	h := botstatus.Heartbeat{Instance: instance, PID: os.Getpid(), Host: host, Version: version, At: time.Now().UTC(),
		StartedAt: st.StartedAt.UTC(), LastEvent: st.LastEvent.UTC(), ShardCount: st.ShardCount, Shards: []botstatus.Shard{}}
	if st.LastEvent.IsZero() {
		h.LastEvent = time.Time{} // omitted, not 0001-01-01 in UTC
	}
	for _, s := range st.Shards {
		if s.Connected {
			h.ShardsConnected++
		}
		h.Shards = append(h.Shards, botstatus.Shard{ID: s.ID, Status: s.Status, Connected: s.Connected,
			LatencyMS: float64(s.Latency.Microseconds()) / 1000, Reconnects: s.Reconnects, Resumes: s.Resumes, LastEvent: s.LastEvent.UTC()})
	}
	return h
}

// wireBotStatus adds the web role's "bot" readiness component: optional,
// so a bot that is down degrades /readyz without taking the web out of
// rotation.
func (a *App) wireBotStatus() {
	if a.role.Runs(RoleWeb) {
		a.health.Optional("bot", botstatus.Check(a.heartbeatStore(), time.Now(), botStartGrace, nil))
	}
}

// botExpected reports whether this deployment runs a bot: a Discord token is
// configured, or serve runs one against the sandbox (no token, sandbox on:
// wireDiscord). Serve with neither runs no bot, so nothing can disconnect.
func (a *App) botExpected() bool {
	return a.cfg.Discord.Token.Value() != "" || a.role == RoleServe && a.cfg.Discord.Sandbox
}

// botDisconnectedCondition is the worker's BotDisconnected alert: no fresh
// heartbeat from any bot process, or a shard down, for two minutes.
func (a *App) botDisconnectedCondition() []alerting.Condition {
	if !a.botExpected() {
		return nil
	}
	store := a.heartbeatStore()
	return []alerting.Condition{{Name: "BotDisconnected", Severity: "critical", Runbook: "docs/runbook.md#bot-disconnected", For: 2 * time.Minute,
		Check: func(ctx context.Context) (string, error) {
			hs, err := store.Read(ctx)
			if err != nil {
				return "", err
			}
			fresh := botstatus.Fresh(hs, time.Now())
			if len(fresh) == 0 {
				return fmt.Sprintf("no bot process has written a heartbeat in the last %s", botstatus.MaxAge), nil
			}
			var settled []botstatus.Heartbeat // past their start-up grace
			for _, h := range fresh {
				if h.At.Sub(h.StartedAt) >= botStartGrace {
					settled = append(settled, h)
				}
			}
			if err := botstatus.Disconnected(settled); err != nil {
				return "gateway shards " + err.Error(), nil
			}
			return "", nil
		}}}
}

// statusReport is GET /status.json: what the dashboard's status page shows.
// No secrets: component states, bot processes and their shards, queue
// depths and the outbox lag.
type statusReport struct {
	Status     string                 `json:"status"`
	Version    string                 `json:"version"`
	Time       time.Time              `json:"time"`
	Components map[string]any         `json:"components"`
	Bot        statusBot              `json:"bot"`
	Queues     map[string]statusQueue `json:"queues"`
	Outbox     *statusOutbox          `json:"outbox,omitempty"`
	Backup     *statusBackup          `json:"backup,omitempty"`
	Alerts     *statusAlerts          `json:"alerts,omitempty"`
	Errors     map[string]string      `json:"errors,omitempty"` // parts that could not be read
}

type statusBot struct {
	Alive     bool                  `json:"alive"` // a fresh heartbeat exists
	Processes []botstatus.Heartbeat `json:"processes"`
}

type statusQueue struct {
	Ready             int64   `json:"ready"`
	Delayed           int64   `json:"delayed"`
	InFlight          int64   `json:"in_flight"`
	Dead              int64   `json:"dead"`
	OldestWaitSeconds float64 `json:"oldest_wait_seconds"`
}

// statusBackup is the backup history (internal/backup), without paths or
// error messages: /status.json is not authenticated.
type statusBackup struct {
	LastSuccessAt *time.Time `json:"last_success_at"` // null: none ever succeeded
	AgeSeconds    *float64   `json:"age_seconds"`
	SizeBytes     int64      `json:"size_bytes"`
	LastStatus    string     `json:"last_status"` // of the latest run: succeeded, failed, or "" when none
}

// statusAlerts is the built-in alerting's latest report, without what the
// alerts say or where they are sent (summaries name API keys and backup
// paths): which conditions fire, and whether the report is current.
type statusAlerts struct {
	Reported    bool           `json:"reported"` // false: no worker has evaluated yet
	EvaluatedAt *time.Time     `json:"evaluated_at"`
	Stale       bool           `json:"stale"` // the worker stopped evaluating
	Firing      []statusFiring `json:"firing"`
}

type statusFiring struct {
	Name     string    `json:"name"`
	Severity string    `json:"severity"`
	Since    time.Time `json:"since"`
}

type statusOutbox struct {
	Pending       int64   `json:"pending"`
	OldestSeconds float64 `json:"oldest_seconds"`
}

func (a *App) statusHandler() http.Handler {
	store := a.heartbeatStore()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		rep := a.health.Check(ctx)
		out := statusReport{Status: rep.Status, Version: version, Time: time.Now().UTC(), Components: map[string]any{},
			Queues: map[string]statusQueue{}, Bot: statusBot{Processes: []botstatus.Heartbeat{}}}
		for name, c := range rep.Components {
			out.Components[name] = c
		}
		errs := map[string]string{}
		if hs, err := store.Read(ctx); err != nil {
			errs["bot"] = a.scrub(err)
		} else {
			now := time.Now()
			out.Bot.Alive = len(botstatus.Fresh(hs, now)) > 0
			if hs != nil {
				out.Bot.Processes = hs
			}
		}
		for _, q := range watchedQueues {
			st, err := a.bus.Stats(ctx, q)
			if err != nil {
				errs["queue "+q] = a.scrub(err)
				continue
			}
			out.Queues[q] = statusQueue{Ready: st.Ready, Delayed: st.Delayed, InFlight: st.InFlight, Dead: st.Dead, OldestWaitSeconds: st.OldestWait.Seconds()}
		}
		if lag, err := outbox.Lag(ctx, a.db); err != nil {
			errs["outbox"] = a.scrub(err)
		} else {
			out.Outbox = &statusOutbox{Pending: lag.Pending, OldestSeconds: lag.Oldest.Seconds()}
		}
		if st, err := backup.ReadState(ctx, a.db.Q()); err != nil {
			errs["backup"] = a.scrub(err)
		} else {
			out.Backup = &statusBackup{}
			if st.Last != nil {
				out.Backup.LastStatus = st.Last.Status
			}
			if ok := st.LastSuccess; ok != nil {
				at, age := ok.FinishedAt.UTC(), time.Since(ok.FinishedAt).Seconds()
				out.Backup.LastSuccessAt, out.Backup.AgeSeconds, out.Backup.SizeBytes = &at, &age, ok.SizeBytes
			}
		}
		if r, ok, err := (alerting.Reports{DB: a.db}).Latest(ctx); err != nil {
			errs["alerts"] = a.scrub(err)
		} else {
			out.Alerts = &statusAlerts{Reported: ok, Firing: []statusFiring{}}
			if ok {
				at := r.EvaluatedAt.UTC()
				out.Alerts.EvaluatedAt, out.Alerts.Stale = &at, r.Stale(time.Now())
				for _, c := range r.Firing() {
					out.Alerts.Firing = append(out.Alerts.Firing, statusFiring{Name: c.Name, Severity: c.Severity, Since: c.Since.UTC()})
				}
			}
		}
		if len(errs) > 0 {
			out.Errors = errs
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func (a *App) scrub(err error) string {
	return health.Sanitize(err.Error(), a.cfg.Secrets()...)
}
