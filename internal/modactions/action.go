package modactions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/omit"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
)

// HandleAction carries out one case's action: the DM first for a warning,
// a kick or a ban (a removed member cannot be written to), then the message
// deletion, then the action itself; a timeout's DM follows the timeout.
func (w *Worker) HandleAction(ctx context.Context, job bus.Job) error {
	var a jobs.ModAction
	if err := json.Unmarshal(job.Payload, &a); err != nil {
		return bus.Permanent(fmt.Errorf("malformed moderation action %s: %w", job.ID, err))
	}
	log := w.o.Logger.With("job_id", job.ID, "attempt", job.Attempt, "guild_id", a.GuildID, "case", a.Case,
		"action", a.Action, "target_id", a.TargetID)
	if a.GuildID == 0 || a.TargetID == 0 {
		return bus.Permanent(fmt.Errorf("moderation action %s names no guild or member", job.ID))
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	g, u := snowflake.ID(a.GuildID), snowflake.ID(a.TargetID)

	// The DM goes out on the first delivery only: a retry after a failed ban
	// must not write to the member again. DM failures (closed DMs) are logged.
	dmFirst := a.Action == "warn" || a.Action == "kick" || a.Action == "ban"
	if a.DM != "" && dmFirst && job.Attempt == 1 {
		w.dm(ctx, log, u, a.DM)
	}
	if a.DeleteMessage && a.ChannelID != 0 && a.MessageID != 0 {
		err := w.dc.DeleteMessage(snowflake.ID(a.ChannelID), snowflake.ID(a.MessageID), withReason(ctx, a.Reason)...)
		if st, code := status(err); err != nil && st == http.StatusNotFound && code == rest.JSONErrorCodeUnknownMessage {
			log.Info("message already deleted", "message_id", a.MessageID)
		} else if err != nil {
			return w.classify(log, job, "delete the message", err)
		}
	}

	var err error
	gone := rest.JSONErrorCodeUnknownMember // the "already done" answer for this action
	opts := withReason(ctx, a.Reason)
	switch a.Action {
	case "warn", "delete":
		// The DM and the deletion were the whole action.
	case "timeout":
		if a.DurationSeconds <= 0 {
			return bus.Permanent(fmt.Errorf("timeout without a duration in case #%d", a.Case))
		}
		until := w.o.Now().UTC().Add(time.Duration(a.DurationSeconds) * time.Second)
		_, err = w.dc.UpdateMember(g, u, discord.MemberUpdate{CommunicationDisabledUntil: omit.NewPtr(until)}, opts...)
	case "untimeout":
		_, err = w.dc.UpdateMember(g, u, discord.MemberUpdate{CommunicationDisabledUntil: omit.NewNilPtr[time.Time]()}, opts...)
	case "kick":
		err = w.dc.RemoveMember(g, u, opts...)
	case "ban":
		// No message history is deleted: the offending message, if any, went above.
		err = w.dc.AddBan(g, u, 0, opts...)
	case "unban":
		gone = rest.JSONErrorCodeUnknownBan
		err = w.dc.DeleteBan(g, u, opts...)
	default:
		return bus.Permanent(fmt.Errorf("unknown moderation action %q in case #%d", a.Action, a.Case))
	}
	if st, code := status(err); err != nil && st == http.StatusNotFound && code == gone {
		// The member left (kick, timeout) or the ban is already lifted (unban): nothing to do.
		log.Info("moderation action already moot", "why", err.Error())
		return nil
	}
	if err != nil {
		return w.classify(log, job, a.Action, err)
	}
	if a.Action == "timeout" && a.DM != "" {
		w.dm(ctx, log, u, a.DM)
	}
	log.Info("moderation action done", "reason", a.Reason)
	return nil
}

// dm writes to the member; failures (DMs closed, no shared server) are logged
// and do not hold up the action.
func (w *Worker) dm(ctx context.Context, log *slog.Logger, user snowflake.ID, text string) {
	ch, err := w.dc.CreateDMChannel(user, rest.WithCtx(ctx))
	if err == nil {
		_, err = w.dc.CreateMessage(ch.ID(), discord.MessageCreate{Content: text,
			AllowedMentions: &discord.AllowedMentions{}}, rest.WithCtx(ctx))
	}
	if err != nil {
		log.Warn("moderation DM not delivered (the member may have DMs closed); the action goes on", "err", err)
	}
}
