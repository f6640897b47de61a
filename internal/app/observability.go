package app

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/telemetry"
	"github.com/smarterdev/smarterdev/internal/web"
)

// economyMetricsTTL bounds how often a scrape reads the economy gauges.
const economyMetricsTTL = 30 * time.Second

// setupTracing installs the OTLP exporter when OTEL_EXPORTER_OTLP_* is set
// (see internal/telemetry); otherwise tracing stays a no-op.
func (a *App) setupTracing(ctx context.Context) error {
	t, err := telemetry.Setup(ctx, telemetry.Options{
		Getenv: os.Getenv, ServiceName: "smarterdev", ServiceVersion: version, Role: string(a.role),
		TracesPerSecond: a.cfg.TracesPerSecond,
	})
	if err != nil {
		return err
	}
	a.tracing = t
	if t.Enabled() {
		a.log.Info("tracing on: exporting spans over OTLP/HTTP")
	}
	return nil
}

// newMetrics builds the app's private registry: runtime, process, every
// package-level metric and the scrape-time collectors of what this role runs.
func (a *App) newMetrics() *prometheus.Registry {
	reg := metrics.NewRegistry(metrics.BuildInfo{Version: version, Commit: commit})
	reg.MustRegister(metrics.NewPoolCollector(a.db.PoolStats))
	reg.MustRegister(metrics.NewEconomyCollector(a.economySnapshot, economyMetricsTTL, a.cfg.MetricsPerGuild))
	if a.role.Runs(RoleWorker) {
		reg.MustRegister(metrics.NewBusCollector(a.bus, jobs.QueueRoles))
		reg.MustRegister(metrics.NewOutboxCollector(func(ctx context.Context) (int64, time.Duration, error) {
			lag, err := outbox.Lag(ctx, a.db)
			return lag.Pending, lag.Oldest, err
		}))
		reg.MustRegister(metrics.NewBackupCollector(a.backupState))
		svc := a.services.APIKeys
		reg.MustRegister(metrics.NewKeyExpiryCollector(func(ctx context.Context) (time.Time, error) {
			keys, err := svc.Expiring(ctx, time.Now(), 2*apikeys.MaxTTL) // every key with a lifetime
			if err != nil || len(keys) == 0 {
				return time.Time{}, err
			}
			return keys[0].ExpiresAt, nil
		}))
	}
	return reg
}

func (a *App) economySnapshot(ctx context.Context) ([]metrics.GuildEconomy, error) {
	now := time.Now().UTC()
	dayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	rows, err := a.db.Q().MetricsEconomy(ctx, sqldb.MetricsEconomyParams{
		Day: string(economy.DayOf(now)), DayStart: sqlNullTime(dayStart),
	})
	if err != nil {
		return nil, err
	}
	out := make([]metrics.GuildEconomy, len(rows))
	for i, r := range rows {
		out[i] = metrics.GuildEconomy{GuildID: r.GuildID, Accounts: r.Accounts, Circulation: r.Circulation, ActiveMembers: r.ActiveMembers}
	}
	return out, nil
}

// metricsHandler serves /metrics from the app's registry.
func (a *App) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// instrument wraps the whole HTTP surface, outermost first: a server span
// (only when tracing is on), the request id and access log, then metrics.
// The ServeMux inside is wrapped by logging.CaptureRoute (see Start), so
// spans, logs and metrics name the route pattern, never the raw path.
func (a *App) instrument(h http.Handler) http.Handler {
	var slo *web.SLOCounter
	if a.role.Runs(RoleWeb) {
		// API and dashboard requests and 5xx per UTC day for the status page's
		// SLO error budget (internal/web/slo.go), written every minute.
		slo = web.NewSLOCounter(a.db, nil)
		a.Go("slo counts", slo.Run)
	}
	return InstrumentHTTP(h, a.log, slo, telemetry.Enabled())
}

// InstrumentHTTP is the observability the server wraps around its routes,
// outermost first: a server span (when traced: tracing is on), the request
// id and access log (on log, component "http"), Prometheus metrics, then the
// SLO counter (when slo is not nil). tools/benchapi measures its cost with it.
func InstrumentHTTP(h http.Handler, log *slog.Logger, slo *web.SLOCounter, traced bool) http.Handler {
	var also metrics.Counter
	if slo != nil {
		also = slo // counted in the metrics' call, not in a layer of its own
	}
	o := logging.HTTPOptions{Observe: metrics.HTTP(also), Untraced: !traced}
	if traced {
		o.StartSpan = telemetry.ServerSpan // telemetry.HTTPServer around logging.Middleware, in one layer
	}
	return logging.Instrument(log.With("component", "http"), o, h)
}

// LogLevel is the logger's run-time level (nil when the logger was not made
// by logging.New); POST /debug/log-level changes it.
func (a *App) LogLevel() *slog.LevelVar { return logging.LevelOf(a.log) }

func sqlNullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: true} }

// logSecrets are the values the logger masks wherever they appear: every
// configured secret except a SQLite URL, which is a file path, not a secret.
func logSecrets(cfg config.Config) []string {
	var out []string
	for _, s := range cfg.Secrets() {
		if !strings.HasPrefix(s, "sqlite:") {
			out = append(out, s)
		}
	}
	return out
}
