package web

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/outbox"
)

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
	BackupNote string
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
	d := statusData{Errors: map[string]string{}, CheckedAt: now, BackupNote: "No backups configured."}
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
	h.render(w, r, http.StatusOK, "status", &page{Title: "Status", Viewer: v, Data: d})
}
