package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/shard"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// SLO objective of the API and the dashboard: the share of requests answered
// without a server error (5xx) over a rolling window.
const (
	SLOObjective  = 0.999
	SLOWindowDays = 30
	// sloFlushEvery is how often a process adds its counts to slo_daily.
	sloFlushEvery = time.Minute
	// sloKeepDays is how long daily counts are kept.
	sloKeepDays = 400
)

// SLOCounter counts this process's API and dashboard requests and server
// errors per UTC day in memory and adds them to the slo_daily table every
// minute (Run), so several web replicas add up. Probes, metrics and static
// files are not counted. Counting is two atomic adds on the day's counters
// (a lock and a map per request cost the API more than its metrics did).
type SLOCounter struct {
	db        *store.DB
	now       func() time.Time
	realClock bool // now is time.Now

	mu    sync.Mutex
	days  map[string]*sloDay // days with counts, flushed or not
	today atomic.Pointer[sloDay]
}

// sloDay is a UTC day: its name, the instants it covers, [start, end), and
// its counts not yet written, which every request adds to: kept per
// processor (internal/shard), since a count shared by all cores costs each
// request its cache line's trip between them.
type sloDay struct {
	name             string
	startSec, endSec int64 // [start, end) in Unix seconds: a request's check is two integer compares
	requests, errors *shard.Int64
}

// day returns t's UTC day, made once a day rather than per request.
func (s *SLOCounter) day(t time.Time) *sloDay {
	if d := s.today.Load(); d != nil {
		// Days start on a whole second, so t is in [start, end) when its
		// second is.
		if sec := t.Unix(); sec >= d.startSec && sec < d.endSec {
			return d
		}
	}
	u := t.UTC()
	name := u.Format(time.DateOnly)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.days[name]
	if d == nil {
		start := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		end := start.AddDate(0, 0, 1)
		d = &sloDay{name: name, startSec: start.Unix(), endSec: end.Unix(),
			requests: shard.NewInt64(), errors: shard.NewInt64()}
		s.days[name] = d
	}
	if cur := s.today.Load(); cur == nil || d.startSec > cur.startSec {
		s.today.Store(d) // a late request of yesterday does not move today back
	}
	return d
}

// NewSLOCounter returns a counter writing to db; now defaults to time.Now.
func NewSLOCounter(db *store.DB, now func() time.Time) *SLOCounter {
	real := now == nil
	if real {
		now = time.Now
	}
	return &SLOCounter{db: db, now: now, realClock: real, days: map[string]*sloDay{}}
}

// Count records one answered request with its status.
func (s *SLOCounter) Count(status int) { s.add(s.now(), status, shard.Index()) }

// add records a request of the UTC day of t on processor shard i.
func (s *SLOCounter) add(t time.Time, status, i int) {
	d := s.day(t)
	d.requests.AddAt(i, 1)
	if status >= 500 {
		d.errors.AddAt(i, 1)
	}
}

// counted reports whether a path is part of the SLO: the API and the
// dashboard, not probes, metrics, debug endpoints or static files.
func counted(path string) bool {
	switch {
	case path == "/livez", path == "/readyz", path == "/metrics", path == "/status.json",
		strings.HasPrefix(path, "/debug/"), strings.HasPrefix(path, "/static/"):
		return false
	}
	return true
}

// CountRequest counts one answered request (metrics.Counter: metrics.HTTP
// calls it when the request has ended, a panic's status as a 500). On the
// real clock the day is the one the request started in, from logging's
// record, without reading the clock again.
func (s *SLOCounter) CountRequest(r *http.Request, rec *logging.Request, i int) {
	if !counted(r.URL.Path) {
		return
	}
	t := rec.Start
	if !s.realClock || t.IsZero() {
		t = s.now()
	}
	s.add(t, rec.Status, i)
}

// Flush adds the pending counts to slo_daily in one transaction; when it
// fails the counts stay pending for the next flush.
func (s *SLOCounter) Flush(ctx context.Context) error {
	type taken struct {
		d                *sloDay
		requests, errors int64
	}
	var batch []taken
	s.mu.Lock()
	today := s.today.Load()
	for name, d := range s.days {
		t := taken{d, d.requests.Take(), d.errors.Take()}
		if t.requests == 0 && t.errors == 0 {
			if d != today {
				delete(s.days, name) // a past day with nothing since the last flush
			}
			continue
		}
		batch = append(batch, t)
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		for _, t := range batch {
			if err := tx.AddSLOCounts(ctx, sqldb.AddSLOCountsParams{Day: t.d.name, Requests: t.requests, Errors: t.errors}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		for _, t := range batch {
			t.d.requests.Add(t.requests)
			t.d.errors.Add(t.errors)
			s.days[t.d.name] = t.d
		}
		s.mu.Unlock()
	}
	return err
}

// Run flushes every minute until ctx ends, then once more; it prunes days
// older than sloKeepDays once a day.
func (s *SLOCounter) Run(ctx context.Context) error {
	t := time.NewTicker(sloFlushEvery)
	defer t.Stop()
	var pruned string
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = s.Flush(fctx)
			return nil
		case <-t.C:
		}
		_ = s.Flush(ctx) // failures stay pending and are retried next minute
		today := s.now().UTC().Format(time.DateOnly)
		if today != pruned {
			before := s.now().UTC().AddDate(0, 0, -sloKeepDays).Format(time.DateOnly)
			err := s.db.Tx(ctx, func(tx *store.Tx) error {
				_, err := tx.DeleteSLODaysBefore(ctx, before)
				return err
			})
			if err == nil {
				pruned = today
			}
		}
	}
}

// Budget is the error budget over the SLO window.
type Budget struct {
	Days         int
	Objective    float64 // percent, e.g. 99.9
	Requests     int64
	Errors       int64
	Availability float64 // percent of requests without a server error; 100 without traffic
	Left         float64 // percent of the error budget left; negative when overspent
	Bar          int     // Left clamped to 0..100, for the bar
}

// readBudget sums slo_daily over the last SLOWindowDays UTC days, today included.
func readBudget(ctx context.Context, db *store.DB, now time.Time) (Budget, error) {
	since := now.UTC().AddDate(0, 0, -(SLOWindowDays - 1)).Format(time.DateOnly)
	rows, err := db.Q().SLODaysSince(ctx, since)
	if err != nil {
		return Budget{}, err
	}
	b := Budget{Days: SLOWindowDays, Objective: SLOObjective * 100, Availability: 100, Left: 100}
	for _, r := range rows {
		b.Requests += r.Requests
		b.Errors += r.Errors
	}
	if b.Requests > 0 {
		b.Availability = 100 * float64(b.Requests-b.Errors) / float64(b.Requests)
		allowed := float64(b.Requests) * (1 - SLOObjective)
		b.Left = 100 * (allowed - float64(b.Errors)) / allowed
	}
	b.Bar = int(min(max(b.Left, 0), 100))
	return b, nil
}
