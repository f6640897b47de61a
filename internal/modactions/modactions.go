// Package modactions is the worker that carries out moderation cases on
// Discord: it consumes jobs.QueueModeration (the action a case decided: DM,
// delete the message, timeout, kick, ban, unban) and jobs.QueueModLog (the
// case posted to the guild's mod-log channel). Both are written to the
// outbox by the moderation service in the transaction that opened the case.
//
// Delivery is at least once, so every step is idempotent: a second ban,
// timeout or delete changes nothing on Discord, and "already done" answers
// (unknown member on a kick, unknown ban on an unban, unknown message on a
// delete) count as done. The DM goes out on the first delivery only, so a
// retried ban does not message the member twice.
package modactions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// Discord is the part of Discord's REST API the worker uses; disgo's
// rest.Rest implements it (and waits out Discord's rate limits and 429s).
type Discord interface {
	CreateDMChannel(userID snowflake.ID, opts ...rest.RequestOpt) (*discord.DMChannel, error)
	CreateMessage(channelID snowflake.ID, m discord.MessageCreate, opts ...rest.RequestOpt) (*discord.Message, error)
	DeleteMessage(channelID, messageID snowflake.ID, opts ...rest.RequestOpt) error
	UpdateMember(guildID, userID snowflake.ID, m discord.MemberUpdate, opts ...rest.RequestOpt) (*discord.Member, error)
	RemoveMember(guildID, userID snowflake.ID, opts ...rest.RequestOpt) error
	AddBan(guildID, userID snowflake.ID, deleteMessageDuration time.Duration, opts ...rest.RequestOpt) error
	DeleteBan(guildID, userID snowflake.ID, opts ...rest.RequestOpt) error
}

// Cases reads a case for its mod-log post; *moderation.Service implements it.
type Cases interface {
	Case(ctx context.Context, guild, number int64) (moderation.Case, error)
}

// Options tune the consumers.
type Options struct {
	Logger *slog.Logger
	// Consume are the bus options (concurrency, attempts, backoff) of both queues.
	Consume bus.ConsumeOptions
	// ForbiddenAttempts is how many deliveries a 403 (the bot lacks the
	// permission, or the member is above the bot) gets before it is
	// dead-lettered; an admin may fix it meanwhile. Default 3.
	ForbiddenAttempts int
	// Timeout bounds one job's Discord calls, rate-limit waits included; default 30 s.
	Timeout time.Duration
	Now     func() time.Time
}

// Worker carries out moderation actions and mod-log posts.
type Worker struct {
	dc    Discord
	cases Cases
	bus   bus.Bus
	o     Options
}

// New returns a Worker; Run consumes both queues until its context ends.
func New(b bus.Bus, dc Discord, cases Cases, o Options) *Worker {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ForbiddenAttempts <= 0 {
		o.ForbiddenAttempts = 3
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Worker{dc: dc, cases: cases, bus: b, o: o}
}

// Run consumes jobs.QueueModeration and jobs.QueueModLog until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	errs := make(chan error, 2)
	go func() { errs <- w.bus.Consume(ctx, jobs.QueueModeration, w.o.Consume, w.HandleAction) }()
	go func() { errs <- w.bus.Consume(ctx, jobs.QueueModLog, w.o.Consume, w.HandleModLog) }()
	return errors.Join(<-errs, <-errs)
}

// status is the HTTP status and Discord's JSON code of a REST error (0, 0
// for a network error).
func status(err error) (int, rest.JSONErrorCode) {
	var re *rest.Error
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode, re.Code
	}
	return 0, 0
}

// classify turns a failed Discord call into what the bus should do: retry
// (a plain error), or dead-letter (bus.Permanent). what names the call.
func (w *Worker) classify(log *slog.Logger, job bus.Job, what string, err error) error {
	st, _ := status(err)
	switch {
	case st == http.StatusForbidden && job.Attempt >= w.o.ForbiddenAttempts:
		err = fmt.Errorf("%s: the bot lacks the permission or the member is above the bot (%w); dead-lettered after %d attempts: "+
			"give the bot's role Kick, Ban, Moderate and Manage Messages permissions and move it above the member's roles, then redrive", what, err, job.Attempt)
		log.Error("moderation job dead-lettered", "err", err)
		return bus.Permanent(err)
	case st == http.StatusForbidden:
		log.Warn("moderation job refused (missing permission); will retry", "step", what, "err", err)
	case st >= 400 && st < 500 && st != http.StatusTooManyRequests:
		err = fmt.Errorf("%s: discord rejected it (%w); dead-lettered", what, err)
		log.Error("moderation job dead-lettered", "err", err)
		return bus.Permanent(err)
	default:
		log.Warn("moderation job failed; will retry", "step", what, "err", err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// withReason is rest options with the case's audit-log reason.
func withReason(ctx context.Context, reason string) []rest.RequestOpt {
	opts := []rest.RequestOpt{rest.WithCtx(ctx)}
	if reason != "" {
		opts = append(opts, rest.WithReason(reason))
	}
	return opts
}
