// Package app is the composition root: the only place that knows the concrete
// store, bus and services, wires them for a role (serve, web, bot, worker) and
// runs them until the context ends. Tests start the whole program in-process
// with Start or Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// Role is which parts of the product a process runs.
type Role string

const (
	RoleServe  Role = "serve" // everything in one process: the embedded default
	RoleWeb    Role = "web"
	RoleBot    Role = "bot"
	RoleWorker Role = "worker"
)

// Runs reports whether a process of role r runs the parts of part.
func (r Role) Runs(part Role) bool { return r == RoleServe || r == part }

// Options are the per-run choices that do not come from the environment.
type Options struct {
	Role   Role
	Logger *slog.Logger // default: discard
	// Migrate applies pending migrations at startup even on PostgreSQL, where
	// a rollout normally runs "smarterdev migrate up" once beforehand.
	Migrate bool
	// WrapHandler, when set, wraps the whole HTTP handler. Tests use it to add
	// endpoints (e.g. a slow one) without touching the production routes.
	WrapHandler func(http.Handler) http.Handler
	// AlertInterval and AlertFor, when set, replace the built-in alerting's
	// evaluation interval (30 s) and every condition's For duration (alerts.go):
	// tests see an alert fire and resolve within seconds.
	AlertInterval time.Duration
	AlertFor      time.Duration
}

// App is a started process: database, bus, services, background loops and
// the HTTP server. It shuts itself down when the context given to Start ends.
type App struct {
	cfg      config.Config
	role     Role
	log      *slog.Logger
	opts     Options
	db       *store.DB
	bus      bus.Bus
	closeBus func() error
	redis    *redis.Client // nil without SMARTERDEV_REDIS_URL; closed with the bus
	health   *health.Checker
	services *Services
	alerts   *alerting.Alerter    // the worker's built-in alerting; nil in other roles
	metrics  *prometheus.Registry // served on /metrics (observability.go)
	tracing  *telemetry.Tracing

	srv       *http.Server
	ln        net.Listener
	serveDone chan struct{}

	// Background loops run under loopCtx, which outlives the Start context
	// so that loops keep working while in-flight requests drain.
	loopCtx   context.Context
	stopLoops context.CancelFunc
	loops     sync.WaitGroup
	failed    chan error // first fatal error of a loop or the server
	done      chan struct{}
	err       error
}

// Start opens the database and the bus, checks the schema, builds the
// services, starts the background loops and begins serving HTTP. On error
// everything opened so far is closed again.
func Start(ctx context.Context, cfg config.Config, o Options) (_ *App, err error) {
	if o.Role == "" {
		o.Role = RoleServe
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{
		cfg: cfg, role: o.Role, log: o.Logger, opts: o,
		serveDone: make(chan struct{}),
		failed:    make(chan error, 1),
		done:      make(chan struct{}),
	}
	a.loopCtx, a.stopLoops = context.WithCancel(context.WithoutCancel(ctx))
	var closers []func() error
	defer func() {
		if err != nil {
			a.stopLoops()
			a.loops.Wait()
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	if err := a.setupTracing(ctx); err != nil {
		return nil, err
	}
	closers = append(closers, func() error { return a.tracing.Shutdown(context.Background()) })

	a.db, err = openDatabase(ctx, cfg, a.log)
	if err != nil {
		return nil, err
	}
	closers = append(closers, a.db.Close)
	if err := a.ensureSchema(ctx, o.Migrate); err != nil {
		return nil, err
	}

	a.bus, a.closeBus, a.redis, err = openBus(ctx, cfg, a.db, a.log)
	if err != nil {
		return nil, err
	}
	closers = append(closers, a.closeBus)
	a.bus = metrics.InstrumentBus(a.bus)

	a.health = health.New(health.Options{Redact: cfg.Secrets()})
	a.health.Require("database", a.db.Ping)
	a.health.Require("bus", a.bus.Ping)
	a.health.Require("migrations", a.checkMigrations)

	if a.services, err = a.wire(); err != nil {
		return nil, err
	}

	a.metrics = a.newMetrics()
	var handler http.Handler = logging.CaptureRoute(a.routes())
	if o.WrapHandler != nil {
		handler = o.WrapHandler(handler)
	}
	handler = a.instrument(handler)
	a.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	a.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(a.serveDone)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	a.log.Info("listening", "addr", a.Addr(), "role", string(a.role))

	go a.supervise(ctx)
	return a, nil
}

// Addr is the address the HTTP server listens on (the real port when the
// configured one was 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Health is the readiness checker, for parts that add components after Start.
func (a *App) Health() *health.Checker { return a.health }

// Wait blocks until the app has shut down and returns why it stopped: nil
// after a clean shutdown on context cancellation.
func (a *App) Wait() error {
	<-a.done
	return a.err
}

// Go runs a background loop until shutdown. The loop gets a context that ends
// after the HTTP server has drained; it must return then. A loop that returns
// an error before that stops the process (exit 1), so that the orchestrator
// restarts it instead of leaving a half-working process in rotation.
func (a *App) Go(name string, loop func(ctx context.Context) error) {
	a.loops.Go(func() {
		err := loop(a.loopCtx)
		if a.loopCtx.Err() != nil {
			return // stopping: whatever it returned is expected
		}
		if err == nil {
			err = errors.New("returned early")
		}
		a.fail(fmt.Errorf("%s: %w", name, err))
	})
}

func (a *App) fail(err error) {
	select {
	case a.failed <- err:
	default:
	}
}

func (a *App) supervise(ctx context.Context) {
	var cause error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "grace", a.cfg.ShutdownGrace.String())
	case cause = <-a.failed:
		a.log.Error("shutting down after a failure", "err", cause)
	}
	a.err = errors.Join(cause, a.shutdown())
	if a.err == nil {
		a.log.Info("stopped")
	}
	close(a.done)
}

// shutdown stops in order: stop accepting and drain requests, stop the loops
// (requests may still have needed them), then close the bus and the database.
// Everything shares one grace period.
func (a *App) shutdown() error {
	grace := a.cfg.ShutdownGrace
	if grace <= 0 {
		grace = config.DefaultShutdownGrace
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()

	var errs []error
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
		errs = append(errs, fmt.Errorf("requests still running after %s were cut off", grace))
	}
	<-a.serveDone

	a.stopLoops()
	loopsDone := make(chan struct{})
	go func() { a.loops.Wait(); close(loopsDone) }()
	select {
	case <-loopsDone:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("background loops did not stop within %s", grace))
	}

	if err := a.closeBus(); err != nil && !errors.Is(err, bus.ErrClosed) {
		errs = append(errs, fmt.Errorf("close bus: %w", err))
	}
	if err := a.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database: %w", err))
	}
	if err := a.tracing.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush traces: %w", err))
	}
	return errors.Join(errs...)
}
