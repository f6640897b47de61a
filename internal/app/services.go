package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// outboxStuckAfter is how old the oldest unrelayed job may be before the
// worker counts as stuck in /readyz.
const outboxStuckAfter = 2 * time.Minute

// Services are the domain services every transport (API, dashboard, Discord,
// worker) shares. Add a field here when a capability arrives.
type Services struct {
	Economy     *economy.Service
	Squads      *squads.Service
	Moderation  *moderation.Service
	APIKeys     *apikeys.Service
	Idempotency *idempotency.Store

	discord *discordParts // command router and REST client (discord.go)
}

// wire builds the services and starts what the role runs in the background.
// It is the one place a new capability plugs in:
//
//   - a service: construct it here with a.db, a.bus and a.log, call its
//     Start(a.loopCtx) if it has one, and add it to Services;
//   - a background loop (outbox relay, job consumers, sweeps): a.Go(name, fn)
//     under the role that runs it (RoleWorker for jobs, RoleBot for the gateway);
//   - a readiness component: a.health.Require or a.health.Optional.
func (a *App) wire() (*Services, error) {
	s := &Services{}

	s.Economy = economy.NewService(a.db, a.bus, economy.Options{Logger: a.log.With("service", "economy")})
	if err := s.Economy.Start(a.loopCtx); err != nil {
		return nil, fmt.Errorf("start economy: %w", err)
	}

	s.Squads = squads.NewService(a.db, s.Economy)
	s.Moderation = moderation.NewService(a.db, a.bus, moderation.Options{Logger: a.log.With("service", "moderation")})
	if err := s.Moderation.Start(a.loopCtx); err != nil {
		return nil, fmt.Errorf("start moderation: %w", err)
	}
	s.APIKeys = apikeys.NewService(a.db, nil)
	if err := s.APIKeys.Listen(a.loopCtx, a.bus); err != nil {
		return nil, fmt.Errorf("start api keys: %w", err)
	}
	s.Idempotency = idempotency.NewStore(a.db, nil)

	if a.role.Runs(RoleWorker) {
		relay := outbox.NewRelay(a.db, a.bus, outbox.Options{Logger: a.log.With("component", "outbox")})
		a.Go("outbox relay", relay.Run)
		a.health.Optional("outbox", func(ctx context.Context) error {
			lag, err := outbox.Lag(ctx, a.db)
			if err != nil {
				return err
			}
			if lag.Oldest > outboxStuckAfter {
				return fmt.Errorf("%d jobs waiting, the oldest for %s", lag.Pending, lag.Oldest.Round(time.Second))
			}
			return nil
		})
		a.Go("idempotency purge", func(ctx context.Context) error {
			return purgeIdempotencyKeys(ctx, s.Idempotency, a.log)
		})
		a.wireAlerts(s)
		// Job consumers (role changes, mod-log posts, sweeps) plug in here.
	}
	a.wireBotStatus() // the web role's "bot" readiness component (botstatus.go)
	// Discord (discord.go): the gateway under RoleBot, the role worker under
	// RoleWorker, the router that /interactions shares under RoleWeb.
	if err := a.wireDiscord(s); err != nil {
		return nil, fmt.Errorf("start discord: %w", err)
	}
	return s, nil
}

// purgeIdempotencyKeys deletes expired Idempotency-Key records hourly.
func purgeIdempotencyKeys(ctx context.Context, s *idempotency.Store, log *slog.Logger) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			log.Warn("idempotency purge failed; retrying in an hour", "err", err)
		} else if n > 0 {
			log.Info("idempotency keys purged", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
