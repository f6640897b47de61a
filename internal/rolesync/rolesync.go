// Package rolesync is the worker that carries out role changes on Discord:
// it consumes jobs.QueueRoles (written to the outbox by the economy and the
// squads in the transaction that earned or paid for them) and adds or removes
// the member's role through Discord's REST API.
package rolesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
)

// Roles is the part of Discord's REST API the worker uses; disgo's
// rest.Rest implements it (and waits out Discord's rate limits and 429s).
type Roles interface {
	AddMemberRole(guildID, userID, roleID snowflake.ID, opts ...rest.RequestOpt) error
	RemoveMemberRole(guildID, userID, roleID snowflake.ID, opts ...rest.RequestOpt) error
}

// Options tune the consumer.
type Options struct {
	Logger *slog.Logger
	// Consume are the bus options (concurrency, attempts, backoff).
	Consume bus.ConsumeOptions
	// ForbiddenAttempts is how many deliveries a 403 (the bot lacks Manage
	// Roles or the role is above the bot's) gets before it is dead-lettered;
	// an admin may fix the permission meanwhile. Default 3.
	ForbiddenAttempts int
	// Timeout bounds one Discord call, rate-limit waits included; default 30 s.
	Timeout time.Duration
}

// Worker applies role changes.
type Worker struct {
	roles Roles
	bus   bus.Bus
	o     Options
}

// New returns a Worker; Run consumes until its context ends.
func New(b bus.Bus, roles Roles, o Options) *Worker {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ForbiddenAttempts <= 0 {
		o.ForbiddenAttempts = 3
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Worker{roles: roles, bus: b, o: o}
}

// Run consumes jobs.QueueRoles until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	return w.bus.Consume(ctx, jobs.QueueRoles, w.o.Consume, w.Handle)
}

// Handle applies one role change. A returned error is retried by the bus
// with backoff; bus.Permanent dead-letters the job at once.
func (w *Worker) Handle(ctx context.Context, job bus.Job) error {
	var c jobs.RoleChange
	if err := json.Unmarshal(job.Payload, &c); err != nil {
		return bus.Permanent(fmt.Errorf("malformed role change %s: %w", job.ID, err))
	}
	log := w.o.Logger.With("job_id", job.ID, "attempt", job.Attempt, "guild_id", c.GuildID, "user_id", c.UserID,
		"role_id", c.RoleID, "add", c.Add)
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	opts := []rest.RequestOpt{rest.WithCtx(ctx)}
	if c.Reason != "" {
		opts = append(opts, rest.WithReason(c.Reason))
	}
	g, u, r := snowflake.ID(c.GuildID), snowflake.ID(c.UserID), snowflake.ID(c.RoleID)
	var err error
	if c.Add {
		err = w.roles.AddMemberRole(g, u, r, opts...)
	} else {
		err = w.roles.RemoveMemberRole(g, u, r, opts...)
	}
	if err == nil {
		log.Info("role change applied", "reason", c.Reason)
		return nil
	}
	var re *rest.Error
	status := 0
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
	}
	switch {
	case status == http.StatusNotFound:
		err = fmt.Errorf("discord does not know this member or role (%w); dead-lettered: the member may have left or the role was deleted", err)
		log.Error("role change dead-lettered", "err", err)
		return bus.Permanent(err)
	case status == http.StatusForbidden && job.Attempt >= w.o.ForbiddenAttempts:
		err = fmt.Errorf("the bot may not manage this role (%w); dead-lettered after %d attempts: give the bot Manage Roles and put its role above the role", err, job.Attempt)
		log.Error("role change dead-lettered", "err", err)
		return bus.Permanent(err)
	case status == http.StatusForbidden:
		log.Warn("role change refused (missing permission); will retry", "err", err)
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		err = fmt.Errorf("discord rejected the role change (%w); dead-lettered", err)
		log.Error("role change dead-lettered", "err", err)
		return bus.Permanent(err)
	default:
		log.Warn("role change failed; will retry", "err", err)
	}
	return fmt.Errorf("role change: %w", err)
}
