// Package alerting is built-in alerting for a single-machine deployment
// without Prometheus: the worker evaluates a few critical conditions on a
// timer and notifies a Discord webhook, a Slack webhook or PagerDuty. An
// alert notifies when it starts firing, again every Repeat while it fires,
// and once when it resolves; alerts changing in one evaluation go out in one
// message per receiver; a receiver that fails is retried on the next
// evaluation without holding back the others; nothing is sent while muted.
package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Check evaluates one condition: a non-empty problem means it fires.
type Check func(ctx context.Context) (problem string, err error)

// Condition is a named check with the time it must hold before firing, so a
// blip does not page anyone.
type Condition struct {
	Name     string
	Severity string // "critical" or "warning"
	Runbook  string // a section of docs/runbook.md
	For      time.Duration
	Check    Check
}

// Alert is a condition's state as receivers see it.
type Alert struct {
	Name     string
	Severity string
	Summary  string
	Runbook  string
	Firing   bool // false: resolved
	Since    time.Time
}

// Receiver delivers a group of alerts.
type Receiver interface {
	Name() string
	Notify(ctx context.Context, alerts []Alert) error
}

// Options tunes an Alerter.
type Options struct {
	Interval  time.Duration // between evaluations; default 30s
	Repeat    time.Duration // re-notify a firing alert this often; default 4h
	MuteUntil time.Time     // nothing is sent before this instant
	Now       func() time.Time
	Logger    *slog.Logger
	// Publish, when set, receives the report after every evaluation, so
	// that processes other than this one (the dashboard's status page) can
	// show what fires. A failure is logged and the next evaluation tries
	// again.
	Publish func(ctx context.Context, r Report) error
}

type state struct {
	pendingSince time.Time // condition true, waiting for For
	firing       bool
	since        time.Time
	summary      string
	notified     map[string]time.Time // receiver -> last delivered firing notification (zero: not announced)
	owed         map[string]bool      // receiver -> a transition not yet delivered
}

// Report is the alerter's view after an evaluation: every condition's state
// and whether each receiver took its last message. The worker publishes it
// (Options.Publish) so the dashboard's status page can show what fires and
// whether anyone is being told.
type Report struct {
	EvaluatedAt     time.Time        `json:"evaluated_at"`
	IntervalSeconds float64          `json:"interval_seconds"` // between evaluations: a report much older is stale
	MutedUntil      time.Time        `json:"muted_until,omitzero"`
	Receivers       []ReceiverState  `json:"receivers"` // empty: conditions are only logged
	Conditions      []ConditionState `json:"conditions"`
}

// ConditionState is one condition in a Report.
type ConditionState struct {
	Name     string    `json:"name"`
	Severity string    `json:"severity"`
	Runbook  string    `json:"runbook,omitempty"`
	State    string    `json:"state"`             // ok, pending (wrong, not yet for its For) or firing
	Since    time.Time `json:"since,omitzero"`    // pending or firing since
	Summary  string    `json:"summary,omitempty"` // what is wrong, while pending or firing
}

// ReceiverState is one receiver in a Report.
type ReceiverState struct {
	Name      string    `json:"name"`
	LastError string    `json:"last_error,omitempty"` // the last delivery failed with this
	FailedAt  time.Time `json:"failed_at,omitzero"`
}

// Condition states in a Report.
const (
	StateOK      = "ok"
	StatePending = "pending"
	StateFiring  = "firing"
)

// Stale reports whether r is too old to trust at now: three evaluations
// missed, so the process that evaluates has stopped or is stuck.
func (r Report) Stale(now time.Time) bool {
	return now.Sub(r.EvaluatedAt) > 3*time.Duration(r.IntervalSeconds*float64(time.Second))+time.Minute
}

// Firing lists the conditions firing in r.
func (r Report) Firing() []ConditionState {
	var out []ConditionState
	for _, c := range r.Conditions {
		if c.State == StateFiring {
			out = append(out, c)
		}
	}
	return out
}

// Alerter evaluates conditions and notifies receivers.
type Alerter struct {
	conds     []Condition
	receivers []Receiver
	opts      Options
	mu        sync.Mutex
	states    map[string]*state
	lastEval  time.Time
	recvErr   map[string]ReceiverState // receiver -> its last failure, until a delivery succeeds
}

// New returns an Alerter.
func New(conds []Condition, receivers []Receiver, o Options) *Alerter {
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Repeat <= 0 {
		o.Repeat = 4 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Alerter{conds: conds, receivers: receivers, opts: o, states: map[string]*state{}, recvErr: map[string]ReceiverState{}}
}

// Run evaluates until ctx ends.
func (a *Alerter) Run(ctx context.Context) error {
	t := time.NewTicker(a.opts.Interval)
	defer t.Stop()
	for {
		a.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Firing lists the alerts firing now, for a status page.
func (a *Alerter) Firing() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Alert
	for _, c := range a.conds {
		if st := a.states[c.Name]; st != nil && st.firing {
			out = append(out, Alert{Name: c.Name, Severity: c.Severity, Summary: st.summary, Runbook: c.Runbook, Firing: true, Since: st.since})
		}
	}
	return out
}

// Report returns the state after the latest evaluation (a zero
// EvaluatedAt before the first).
func (a *Alerter) Report() Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := Report{EvaluatedAt: a.lastEval, IntervalSeconds: a.opts.Interval.Seconds(), MutedUntil: a.opts.MuteUntil,
		Receivers: []ReceiverState{}, Conditions: make([]ConditionState, 0, len(a.conds))}
	if !r.MutedUntil.After(a.lastEval) {
		r.MutedUntil = time.Time{}
	}
	for _, rc := range a.receivers {
		st := ReceiverState{Name: rc.Name()}
		if e, ok := a.recvErr[rc.Name()]; ok {
			st = e
		}
		r.Receivers = append(r.Receivers, st)
	}
	for _, c := range a.conds {
		cs := ConditionState{Name: c.Name, Severity: c.Severity, Runbook: c.Runbook, State: StateOK}
		if st := a.states[c.Name]; st != nil {
			switch {
			case st.firing:
				cs.State, cs.Since, cs.Summary = StateFiring, st.since, st.summary
			case !st.pendingSince.IsZero():
				cs.State, cs.Since, cs.Summary = StatePending, st.pendingSince, st.summary
			}
		}
		r.Conditions = append(r.Conditions, cs)
	}
	return r
}

// Evaluate runs every check once and sends what is due.
func (a *Alerter) Evaluate(ctx context.Context) {
	now := a.opts.Now()
	results := make([]string, len(a.conds))
	var wg sync.WaitGroup
	for i, c := range a.conds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			problem, err := c.Check(cctx)
			if err != nil {
				problem = "the check itself failed: " + err.Error()
			}
			results[i] = problem
		}()
	}
	wg.Wait()

	a.mu.Lock()
	for i, c := range a.conds {
		st := a.states[c.Name]
		if st == nil {
			st = &state{notified: map[string]time.Time{}, owed: map[string]bool{}}
			a.states[c.Name] = st
		}
		problem := results[i]
		switch {
		case problem != "" && !st.firing:
			if st.pendingSince.IsZero() {
				st.pendingSince = now
			}
			st.summary = problem
			if now.Sub(st.pendingSince) >= c.For {
				st.firing, st.since = true, st.pendingSince
				a.opts.Logger.Warn("alert firing", "alert", c.Name, "summary", problem)
				for _, r := range a.receivers {
					st.owed[r.Name()] = true
				}
			}
		case problem != "":
			st.summary = problem
		case st.firing:
			st.firing, st.pendingSince = false, time.Time{}
			a.opts.Logger.Info("alert resolved", "alert", c.Name)
			for _, r := range a.receivers {
				// A resolution is owed only where the firing was announced.
				_, announced := st.notified[r.Name()]
				st.owed[r.Name()] = announced
				delete(st.notified, r.Name())
			}
		default:
			st.pendingSince = time.Time{}
		}
	}
	// While muted nothing is sent and what is owed stays owed: an alert still
	// firing when the mute ends is announced then.
	batches := map[string][]Alert{}
	if !now.Before(a.opts.MuteUntil) {
		for _, c := range a.conds {
			st := a.states[c.Name]
			for _, r := range a.receivers {
				last, announced := st.notified[r.Name()]
				due := st.owed[r.Name()] || (st.firing && announced && now.Sub(last) >= a.opts.Repeat)
				if !due {
					continue
				}
				batches[r.Name()] = append(batches[r.Name()], Alert{Name: c.Name, Severity: c.Severity, Summary: st.summary,
					Runbook: c.Runbook, Firing: st.firing, Since: st.since})
			}
		}
	}
	a.lastEval = now
	a.mu.Unlock()

	for _, r := range a.receivers {
		batch := batches[r.Name()]
		if len(batch) == 0 {
			continue
		}
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].Firing && !batch[j].Firing })
		err := r.Notify(ctx, batch)
		a.mu.Lock()
		if err != nil {
			a.recvErr[r.Name()] = ReceiverState{Name: r.Name(), LastError: err.Error(), FailedAt: now}
		} else {
			delete(a.recvErr, r.Name())
		}
		for _, al := range batch {
			st := a.states[al.Name]
			if err != nil {
				st.owed[r.Name()] = true // try again next evaluation
				continue
			}
			delete(st.owed, r.Name())
			if al.Firing {
				st.notified[r.Name()] = now
			}
		}
		a.mu.Unlock()
		if err != nil {
			a.opts.Logger.Warn("alert notification failed; retrying at the next evaluation", "receiver", r.Name(), "alerts", len(batch), "err", err)
		}
	}
	if a.opts.Publish != nil {
		if err := a.opts.Publish(ctx, a.Report()); err != nil {
			a.opts.Logger.Warn("publishing the alert report failed; the status page shows the previous one", "err", err)
		}
	}
}

// title is the one-line headline of a group.
func title(alerts []Alert) string {
	var firing, resolved []string
	for _, a := range alerts {
		if a.Firing {
			firing = append(firing, a.Name)
		} else {
			resolved = append(resolved, a.Name)
		}
	}
	var parts []string
	if len(firing) > 0 {
		parts = append(parts, fmt.Sprintf("FIRING: %s", strings.Join(firing, ", ")))
	}
	if len(resolved) > 0 {
		parts = append(parts, fmt.Sprintf("RESOLVED: %s", strings.Join(resolved, ", ")))
	}
	return "Smarter Dev — " + strings.Join(parts, "; ")
}

// Names of the conditions the worker watches.
var conditionNames = []string{"ReadinessFailing", "DeadLetters", "BotDisconnected", "BackupTooOld", "OutboxStuck", "APIKeyExpiring"}

// Known reports whether name is one of the built-in conditions.
func Known(name string) bool { return slices.Contains(conditionNames, name) }
