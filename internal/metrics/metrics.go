// Package metrics defines every Prometheus metric of the product and the
// instrumentation that feeds them: HTTP middleware, database query and pool
// metrics, a Redis hook, an instrumented bus, scrape-time collectors for
// queues, the outbox and the economy, and counters the services bump at the
// points of success.
//
// The metrics that code deep in the product increments (queries, jobs,
// business events) are package-level values: created once, registered by the
// app into its own registry (Register), never into the global default
// registry, and holding no configuration. Scrape-time collectors are built
// per app with the functions they query.
//
// Naming: smarterdev_ prefix, base units (_seconds), _total on counters,
// _bytes only for real bytes; the currency, also called bytes, is an
// "amount" (smarterdev_economy_transferred_amount_total). Labels stay
// bounded: route patterns, query names, queue names, never a user id; guild
// ids only in scrape-time gauges and only with SMARTERDEV_METRICS_PER_GUILD=1.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/smarterdev/smarterdev/internal/shard"
)

const ns = "smarterdev"

// Latency buckets, in seconds.
var (
	dbBuckets    = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	redisBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
	jobBuckets   = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// HTTP server.
var (
	// HTTPInFlight sums httpInFlight, whose adds (two per request) go to
	// the processor's own shard (internal/shard).
	HTTPInFlight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being served now.",
	}, func() float64 { return float64(httpInFlight.Load()) })
	httpInFlight = shard.NewInt64()
)

// httpBucketsFixed are the HTTP latency buckets, in seconds (0.3 is the API
// latency objective), as an array for the arrays sized by them;
// httpBucketNS are the same bounds as durations.
var (
	httpBucketsFixed = [...]float64{.005, .01, .025, .05, .1, .2, .3, .5, 1, 2.5, 5, 10}
	httpBucketNS     = func() (ns [len(httpBucketsFixed)]time.Duration) {
		for i, s := range httpBucketsFixed {
			ns[i] = time.Duration(s * float64(time.Second))
		}
		return ns
	}()
)

// Database.
var (
	DBQueryDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: "db", Name: "query_duration_seconds",
		Help:    "Time to run a database query, by query name (sqlc).",
		Buckets: dbBuckets,
	}, []string{"query"})
	DBQueryErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "db", Name: "query_errors_total",
		Help: "Database queries that failed (no rows is not a failure), by query name.",
	}, []string{"query"})
)

// Redis.
var (
	RedisDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: "redis", Name: "command_duration_seconds",
		Help:    "Time to run a Redis command or pipeline, by command.",
		Buckets: redisBuckets,
	}, []string{"command"})
	RedisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "redis", Name: "command_errors_total",
		Help: "Redis commands that failed (a missing key is not a failure), by command.",
	}, []string{"command"})
)

// Bus jobs.
var (
	JobsEnqueued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "bus", Name: "jobs_enqueued_total",
		Help: "Jobs enqueued on the bus, by queue.",
	}, []string{"queue"})
	JobsProcessed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "bus", Name: "jobs_processed_total",
		Help: "Job deliveries handled, by queue and outcome (ok, retry, dead).",
	}, []string{"queue", "outcome"})
	JobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: "bus", Name: "job_duration_seconds",
		Help:    "Time a job handler ran, by queue.",
		Buckets: jobBuckets,
	}, []string{"queue"})
)

// Outbox relay.
var (
	OutboxRelayed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "outbox", Name: "relayed_total",
		Help: "Outbox rows published to the bus.",
	})
	OutboxFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "outbox", Name: "relay_failures_total",
		Help: "Outbox relay rounds that failed (the rows stay and are retried).",
	})
)

// Business events, counted at the points of success.
var (
	DailyRewards = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "economy", Name: "daily_rewards_total",
		Help: "Daily rewards paid.",
	})
	DailyRewardedAmount = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "economy", Name: "daily_rewarded_amount_total",
		Help: "Currency (bytes) paid as daily rewards.",
	})
	DailyClaimBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: "economy", Name: "daily_claim_batch_members",
		Help:    "Members per daily-claim statement (PostgreSQL group-commits concurrent claims).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000},
	})
	DailyAcks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "bot", Name: "daily_acks_total",
		Help: "Acknowledgements of daily rewards in Discord, by outcome (sent, failed, shed).",
	}, []string{"outcome"})
	Transfers = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "economy", Name: "transfers_total",
		Help: "Transfers between members committed.",
	})
	TransferredAmount = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "economy", Name: "transferred_amount_total",
		Help: "Currency (bytes) moved by transfers.",
	})
	SquadChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "squads", Name: "membership_changes_total",
		Help: "Squad membership changes, by change (join, switch, leave).",
	}, []string{"change"})
	AutomodActions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "automod", Name: "actions_total",
		Help: "Auto-moderation actions taken, by rule type and action.",
	}, []string{"rule_type", "action"})
)

// Discord gateway and REST, fed by the bot.
var (
	ShardConnected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: "gateway", Name: "shard_connected",
		Help: "1 while a gateway shard is connected and ready, 0 otherwise.",
	}, []string{"shard"})
	HeartbeatLatency = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: "gateway", Name: "heartbeat_latency_seconds",
		Help: "Last gateway heartbeat round trip, by shard.",
	}, []string{"shard"})
	GatewayEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "gateway", Name: "events_total",
		Help: "Gateway dispatch events received, by event type.",
	}, []string{"type"})
	GatewayReconnects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "gateway", Name: "reconnects_total",
		Help: "Gateway reconnections (new sessions), by shard.",
	}, []string{"shard"})
	GatewayResumes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "gateway", Name: "resumes_total",
		Help: "Gateway sessions resumed, by shard.",
	}, []string{"shard"})
	DiscordREST = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: "discord", Name: "rest_request_duration_seconds",
		Help:    "Discord REST call latency, by route template and method.",
		Buckets: httpBucketsFixed[:],
	}, []string{"route", "method"})
	DiscordRESTRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "discord", Name: "rest_requests_total",
		Help: "Discord REST calls, by route template, method and status code.",
	}, []string{"route", "method", "code"})
	DiscordRateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "discord", Name: "rest_rate_limited_total",
		Help: "Discord REST answers with status 429, by route template.",
	}, []string{"route"})
)

// Operations.
var (
	CollectErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "metrics", Name: "collect_errors_total",
		Help: "Scrape-time collections that failed (the metric is left out of that scrape), by collector.",
	}, []string{"collector"})
)

// all lists the package-level collectors, registered together by Register.
var all = []prometheus.Collector{
	httpCollector{}, HTTPInFlight,
	DBQueryDuration, DBQueryErrors,
	RedisDuration, RedisErrors,
	JobsEnqueued, JobsProcessed, JobDuration,
	OutboxRelayed, OutboxFailures,
	DailyRewards, DailyRewardedAmount, DailyClaimBatch, DailyAcks, Transfers, TransferredAmount, SquadChanges, AutomodActions,
	ShardConnected, HeartbeatLatency, GatewayEvents, GatewayReconnects, GatewayResumes,
	DiscordREST, DiscordRESTRequests, DiscordRateLimited,
	CollectErrors,
}

// BuildInfo describes the binary.
type BuildInfo struct{ Version, Commit string }

// NewRegistry returns a registry with the Go runtime and process collectors,
// build information and every package-level metric of the product; the app
// adds its scrape-time collectors with MustRegister.
func NewRegistry(b BuildInfo) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "build_info",
		Help:        "Always 1; labels name the running version and commit.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit},
	})
	info.Set(1)
	reg.MustRegister(info)
	reg.MustRegister(all...)
	return reg
}

// Collectors are the package-level collectors, for tests that list every
// defined metric name.
func Collectors() []prometheus.Collector { return all }

// DailyRewarded counts a paid daily reward; a non-nil err counts nothing.
func DailyRewarded(amount int64, err error) {
	if err == nil {
		DailyRewards.Inc()
		DailyRewardedAmount.Add(float64(amount))
	}
}

// Transferred counts a committed transfer; a non-nil err counts nothing.
func Transferred(amount int64, err error) {
	if err == nil {
		Transfers.Inc()
		TransferredAmount.Add(float64(amount))
	}
}

// Fixed label values are created at start, so the series exist (at 0) from
// the first scrape and rate() sees the first increment.
var (
	squadJoin   = SquadChanges.WithLabelValues("join")
	squadSwitch = SquadChanges.WithLabelValues("switch")
	squadLeave  = SquadChanges.WithLabelValues("leave")
)

// SquadJoined counts a committed join (switched: the member left another squad).
func SquadJoined(switched bool) {
	if switched {
		squadSwitch.Inc()
	} else {
		squadJoin.Inc()
	}
}

// SquadLeft counts a committed leave; a non-nil err counts nothing.
func SquadLeft(err error) {
	if err == nil {
		squadLeave.Inc()
	}
}
