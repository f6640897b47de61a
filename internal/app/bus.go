package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/dbbus"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
)

// openBus keeps jobs in the database when no Redis is configured, so the
// embedded setup needs nothing else running and a crash or restart still
// loses no job (notifications then stay in-process); with Redis, every
// process of a deployment shares notifications and jobs. close releases the
// bus and, for Redis, the client the bus does not own; db stays open. The
// client is returned too (nil without Redis) for the other users of Redis,
// such as rate limits.
func openBus(ctx context.Context, cfg config.Config, db *store.DB, log *slog.Logger) (b bus.Bus, close func() error, client *redis.Client, err error) {
	if !cfg.RedisURL.IsSet() {
		d := dbbus.New(db, dbbus.Options{Logger: log.With("component", "bus")})
		log.Info("bus ready", "kind", "database")
		return d, d.Close, nil, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL.Value())
	if err != nil { // config.Load validated it; kept for callers that build a Config by hand
		return nil, nil, nil, errors.New("SMARTERDEV_REDIS_URL is not a valid Redis URL")
	}
	// go-redis prints lines of its own (a pool that cannot dial, ...) to
	// stderr; they go through the process logger instead, masked like every
	// line. The setting is process-wide: the last bus opened sets it.
	redis.SetLogger(logging.Printf{Logger: log.With("component", "go-redis"), Level: slog.LevelWarn})
	client = redis.NewClient(opts)
	client.AddHook(metrics.RedisHook())
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, nil, fmt.Errorf("connect to redis %s: %w", config.RedactURL(cfg.RedisURL.Value()), err)
	}
	rb := redisbus.New(client, redisbus.Options{Prefix: "smarterdev", Logger: log.With("component", "bus")})
	log.Info("bus ready", "kind", "redis", "url", config.RedactURL(cfg.RedisURL.Value()))
	return rb, func() error { return errors.Join(rb.Close(), client.Close()) }, client, nil
}
