package metrics

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	outboxPending = prometheus.NewDesc(ns+"_outbox_pending_jobs",
		"Outbox rows not yet relayed to the bus.", nil, nil)
	outboxOldest = prometheus.NewDesc(ns+"_outbox_oldest_pending_age_seconds",
		"Age of the oldest outbox row not yet relayed (0 when none).", nil, nil)
)

// OutboxLag reads the outbox backlog (outbox.Lag).
type OutboxLag func(ctx context.Context) (pending int64, oldest time.Duration, err error)

type outboxCollector struct{ lag OutboxLag }

// NewOutboxCollector reads the outbox backlog at scrape time (two indexed queries).
func NewOutboxCollector(lag OutboxLag) prometheus.Collector { return outboxCollector{lag} }

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPending
	ch <- outboxOldest
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := c.lag(ctx)
	if err != nil {
		CollectErrors.WithLabelValues("outbox").Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, oldest.Seconds())
}

// GuildEconomy is one guild's economy at a glance, for scrape-time gauges.
type GuildEconomy struct {
	GuildID       int64
	Accounts      int64
	Circulation   int64 // currency held by all members
	ActiveMembers int64 // members with a daily claim or a transfer sent today (UTC)
}

// EconomySnapshot reads every guild's economy.
type EconomySnapshot func(ctx context.Context) ([]GuildEconomy, error)

type economyCollector struct {
	read                          EconomySnapshot
	ttl                           time.Duration
	perGuild                      bool
	accounts, circulation, active *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	cached  []GuildEconomy
	lastErr error
}

// NewEconomyCollector serves the economy gauges from read, called at most
// once per ttl (the queries scan the accounts table). With perGuild the
// gauges carry a guild label; otherwise they are totals.
func NewEconomyCollector(read EconomySnapshot, ttl time.Duration, perGuild bool) prometheus.Collector {
	var labels []string
	if perGuild {
		labels = []string{"guild"}
	}
	return &economyCollector{
		read: read, ttl: ttl, perGuild: perGuild,
		accounts: prometheus.NewDesc(ns+"_economy_accounts",
			"Member accounts (members who ever appeared).", labels, nil),
		circulation: prometheus.NewDesc(ns+"_economy_circulating_amount",
			"Currency (bytes) held by all members: bytes in circulation.", labels, nil),
		active: prometheus.NewDesc(ns+"_engagement_daily_active_members",
			"Members with a daily reward or a transfer sent today (UTC).", labels, nil),
	}
}

func (c *economyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.accounts
	ch <- c.circulation
	ch <- c.active
}

func (c *economyCollector) Collect(ch chan<- prometheus.Metric) {
	rows, err := c.snapshot()
	if err != nil {
		CollectErrors.WithLabelValues("economy").Inc()
		return
	}
	if !c.perGuild {
		var t GuildEconomy
		for _, r := range rows {
			t.Accounts += r.Accounts
			t.Circulation += r.Circulation
			t.ActiveMembers += r.ActiveMembers
		}
		ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(t.Accounts))
		ch <- prometheus.MustNewConstMetric(c.circulation, prometheus.GaugeValue, float64(t.Circulation))
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(t.ActiveMembers))
		return
	}
	for _, r := range rows {
		g := strconv.FormatInt(r.GuildID, 10)
		ch <- prometheus.MustNewConstMetric(c.accounts, prometheus.GaugeValue, float64(r.Accounts), g)
		ch <- prometheus.MustNewConstMetric(c.circulation, prometheus.GaugeValue, float64(r.Circulation), g)
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(r.ActiveMembers), g)
	}
}

func (c *economyCollector) snapshot() ([]GuildEconomy, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.cached, c.lastErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.cached, c.lastErr = c.read(ctx)
	c.at = time.Now()
	return c.cached, c.lastErr
}

var (
	backupLastSuccess = prometheus.NewDesc(ns+"_backup_last_success_timestamp_seconds",
		"Unix time the last successful backup finished (the backups table); 0 when none ever succeeded.", nil, nil)
	backupsTotal = prometheus.NewDesc(ns+"_backups_total",
		"Backups run (smarterdev backup), by status (succeeded, failed), counted in the backups table.", []string{"status"}, nil)
)

// BackupState reads the backups table (backup.ReadState): when the last
// success finished (zero: never) and how many runs succeeded and failed.
type BackupState func(ctx context.Context) (lastSuccess time.Time, succeeded, failed int64, err error)

type backupCollector struct{ read BackupState }

// NewBackupCollector reads the backups table at scrape time (indexed
// queries on a small table), so every process reports the same value and a
// backup taken by the CLI shows at once.
func NewBackupCollector(read BackupState) prometheus.Collector { return backupCollector{read} }

func (c backupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backupLastSuccess
	ch <- backupsTotal
}

func (c backupCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	last, ok, failed, err := c.read(ctx)
	if err != nil {
		CollectErrors.WithLabelValues("backup").Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(backupLastSuccess, prometheus.GaugeValue, unixSeconds(last))
	ch <- prometheus.MustNewConstMetric(backupsTotal, prometheus.CounterValue, float64(ok), "succeeded")
	ch <- prometheus.MustNewConstMetric(backupsTotal, prometheus.CounterValue, float64(failed), "failed")
}

var keyNextExpiry = prometheus.NewDesc(ns+"_api_key_next_expiry_timestamp_seconds",
	"Unix time the soonest-expiring working API key stops working; 0 when no working key has a lifetime.", nil, nil)

// NextKeyExpiry reads when the soonest-expiring working API key expires
// (zero: none).
type NextKeyExpiry func(ctx context.Context) (time.Time, error)

type keyExpiryCollector struct{ read NextKeyExpiry }

// NewKeyExpiryCollector reads the API keys at scrape time (a small table),
// for the SmarterdevAPIKeyExpiring rule.
func NewKeyExpiryCollector(read NextKeyExpiry) prometheus.Collector { return keyExpiryCollector{read} }

func (c keyExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyNextExpiry }

func (c keyExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	next, err := c.read(ctx)
	if err != nil {
		CollectErrors.WithLabelValues("apikeys").Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(keyNextExpiry, prometheus.GaugeValue, unixSeconds(next))
}

// unixSeconds is t as a Prometheus timestamp gauge writes it; 0 for none.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
