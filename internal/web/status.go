package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/backup"
	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/store"
)

// AlertReports reads the built-in alerting's latest report (an
// alerting.Reports).
type AlertReports interface {
	Latest(ctx context.Context) (alerting.Report, bool, error)
}

// statusAlerts is what the built-in alerting last said.
type statusAlerts struct {
	Report  *alerting.Report // nil: no worker has reported
	Age     time.Duration    // since the report's evaluation
	Stale   bool             // the worker stopped evaluating
	Firing  []alerting.ConditionState
	Pending []alerting.ConditionState
	OK      int                      // conditions that hold
	Failing []alerting.ReceiverState // receivers whose last delivery failed
}

func readAlerts(ctx context.Context, src AlertReports, now time.Time) (*statusAlerts, error) {
	r, ok, err := src.Latest(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &statusAlerts{}, nil
	}
	a := &statusAlerts{Report: &r, Age: now.Sub(r.EvaluatedAt).Round(time.Second), Stale: r.Stale(now)}
	for _, c := range r.Conditions {
		switch c.State {
		case alerting.StateFiring:
			a.Firing = append(a.Firing, c)
		case alerting.StatePending:
			a.Pending = append(a.Pending, c)
		default:
			a.OK++
		}
	}
	for _, rc := range r.Receivers {
		if rc.LastError != "" {
			a.Failing = append(a.Failing, rc)
		}
	}
	return a, nil
}

// HeartbeatReader reads the bot processes' heartbeats (a botstatus.Store).
type HeartbeatReader interface {
	Read(ctx context.Context) ([]botstatus.Heartbeat, error)
}

type statusComponent struct {
	Name string
	health.ComponentReport
}

type statusProcess struct {
	botstatus.Heartbeat
	Fresh bool
	Age   time.Duration
}

type statusQueue struct {
	Name     string
	Ready    int64
	Delayed  int64
	InFlight int64
	Dead     int64
	Lag      time.Duration
}

type statusData struct {
	Overall    string
	Components []statusComponent
	BotKnown   bool // a heartbeat reader is wired
	BotAlive   bool
	Processes  []statusProcess
	Queues     []statusQueue
	Outbox     *outbox.Backlog
	Budget     *Budget
	Errors     map[string]string // parts that could not be read
	CheckedAt  time.Time
	Backup     *statusBackup
	Alerts     *statusAlerts // nil: no reader wired
	Operator   bool          // operators see backup paths and errors, and what alerts say
}

// statusBackup is the last backup (internal/backup).
type statusBackup struct {
	LastSuccess *backup.Record // nil: none ever succeeded
	Age         time.Duration  // of LastSuccess
	AgeText     string         // "3h 5m"
	Size        string
	ShortSHA    string         // the first 12 hex digits
	Last        *backup.Record // the latest run
	LastFailed  bool
	Overdue     bool // older than SMARTERDEV_BACKUP_MAX_AGE (or never, with one configured)
	MaxAge      time.Duration
	MaxAgeText  string
	Command     string // how to take one
}

func readBackup(ctx context.Context, db *store.DB, now time.Time, maxAge time.Duration) (*statusBackup, error) {
	st, err := backup.ReadState(ctx, db.Q())
	if err != nil {
		return nil, err
	}
	b := &statusBackup{LastSuccess: st.LastSuccess, Last: st.Last, LastFailed: st.LastFailed(), MaxAge: maxAge,
		MaxAgeText: compactDuration(maxAge), Command: "smarterdev backup --out /var/backups/smarterdev"}
	if st.LastSuccess != nil {
		b.Age = now.Sub(st.LastSuccess.FinishedAt)
		if b.Age >= time.Hour {
			b.Age = b.Age.Round(time.Minute)
		} else {
			b.Age = b.Age.Round(time.Second)
		}
		b.AgeText = compactDuration(b.Age)
		b.Size = humanBytes(st.LastSuccess.SizeBytes)
		b.ShortSHA = st.LastSuccess.Sha256
		if len(b.ShortSHA) > 12 {
			b.ShortSHA = b.ShortSHA[:12] + "…"
		}
		b.Overdue = maxAge > 0 && b.Age > maxAge
	}
	return b, nil
}

// compactDuration prints the two largest units that are not zero: "45s",
// "3m 20s", "3h", "26h 5m", "2d 2h".
func compactDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	type unit struct {
		name string
		size time.Duration
	}
	units := []unit{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	if d < 48*time.Hour {
		units = units[1:] // "26h", not "1d 2h": ages near a day read better in hours
	}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 || (len(parts) == 0 && u.name == "s") {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.name)
			d -= n * u.size
		} else if len(parts) > 0 {
			break
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// statusPage shows the platform's health to operators and to anyone who
// manages a guild: components, bot shards, queues, the outbox and the SLO
// error budget. It shows no guild's data.
func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if !v.Operator {
		list, err := h.myGuilds(ctx, v)
		if err != nil && err != errSignedOut {
			h.errorPage(w, r, http.StatusServiceUnavailable, "Discord did not answer, so your permissions could not be checked. Try again in a minute.")
			return
		}
		if !slices.ContainsFunc(list, func(g discordapi.UserGuild) bool { return g.CanManage() }) {
			h.errorPage(w, r, http.StatusForbidden, "The status page is for platform operators and for members who manage a guild.")
			return
		}
	}
	now := h.now()
	d := statusData{Errors: map[string]string{}, CheckedAt: now, Operator: v.Operator}
	if h.d.Health != nil {
		rep := h.d.Health(ctx)
		d.Overall = rep.Status
		for name, c := range rep.Components {
			d.Components = append(d.Components, statusComponent{Name: name, ComponentReport: c})
		}
		slices.SortFunc(d.Components, func(a, b statusComponent) int {
			if a.Name < b.Name {
				return -1
			}
			if a.Name > b.Name {
				return 1
			}
			return 0
		})
	}
	if h.d.Heartbeats != nil {
		d.BotKnown = true
		hs, err := h.d.Heartbeats.Read(ctx)
		if err != nil {
			h.log.WarnContext(ctx, "status page: reading bot heartbeats failed", "err", err)
			d.Errors["bot"] = "the bot heartbeats could not be read"
		}
		for _, hb := range hs {
			age := now.Sub(hb.At)
			p := statusProcess{Heartbeat: hb, Age: age.Round(time.Second), Fresh: age <= botstatus.MaxAge}
			d.BotAlive = d.BotAlive || p.Fresh
			d.Processes = append(d.Processes, p)
		}
	}
	if h.d.Bus != nil {
		for _, q := range h.d.Queues {
			st, err := h.d.Bus.Stats(ctx, q)
			if err != nil {
				h.log.WarnContext(ctx, "status page: reading queue stats failed", "queue", q, "err", err)
				d.Errors["queue "+q] = "could not be read"
				continue
			}
			d.Queues = append(d.Queues, statusQueue{Name: q, Ready: st.Ready, Delayed: st.Delayed, InFlight: st.InFlight, Dead: st.Dead, Lag: st.OldestWait.Round(time.Second)})
		}
	}
	if lag, err := outbox.Lag(ctx, h.d.DB); err != nil {
		h.log.WarnContext(ctx, "status page: reading the outbox lag failed", "err", err)
		d.Errors["outbox"] = "could not be read"
	} else {
		d.Outbox = &lag
	}
	if b, err := readBudget(ctx, h.d.DB, now); err != nil {
		h.log.WarnContext(ctx, "status page: reading the SLO counts failed", "err", err)
		d.Errors["slo"] = "the request counts could not be read"
	} else {
		d.Budget = &b
	}
	if b, err := readBackup(ctx, h.d.DB, now, h.d.BackupMaxAge); err != nil {
		h.log.WarnContext(ctx, "status page: reading the backups failed", "err", err)
		d.Errors["backups"] = "the backup history could not be read"
	} else {
		d.Backup = b
	}
	if h.d.Alerts != nil {
		if a, err := readAlerts(ctx, h.d.Alerts, now); err != nil {
			h.log.WarnContext(ctx, "status page: reading the alert report failed", "err", err)
			d.Errors["alerts"] = "the built-in alerting's report could not be read"
		} else {
			d.Alerts = a
		}
	}
	h.render(w, r, http.StatusOK, "status", &page{Title: "Status", Viewer: v, Data: d})
}
