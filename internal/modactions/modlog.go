package modactions

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// HandleModLog posts one case to the guild's mod-log channel. The post
// carries a nonce derived from the guild and the case with enforce_nonce, so
// Discord drops a second post of the same case sent within minutes (a retry
// after a lost answer).
func (w *Worker) HandleModLog(ctx context.Context, job bus.Job) error {
	var p jobs.ModLogPost
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return bus.Permanent(fmt.Errorf("malformed mod-log post %s: %w", job.ID, err))
	}
	log := w.o.Logger.With("job_id", job.ID, "attempt", job.Attempt, "guild_id", p.GuildID, "case", p.Case, "channel_id", p.ChannelID)
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	c, err := w.cases.Case(ctx, p.GuildID, p.Case)
	if apperr.CodeOf(err) == apperr.NotFound {
		return bus.Permanent(fmt.Errorf("mod-log post: %w", err))
	}
	if err != nil {
		return fmt.Errorf("mod-log post: read case: %w", err)
	}
	e := CaseEmbed(c)
	if p.Closed {
		e = closedEmbed(c)
	}
	msg := discord.MessageCreate{Embeds: []discord.Embed{e}, AllowedMentions: &discord.AllowedMentions{},
		Nonce: nonce(p.GuildID, p.Case, p.Closed), EnforceNonce: true}
	_, err = w.dc.CreateMessage(snowflake.ID(p.ChannelID), msg, rest.WithCtx(ctx))
	if err == nil {
		log.Info("case posted to the mod-log")
		return nil
	}
	if st, _ := status(err); st == http.StatusNotFound {
		err = fmt.Errorf("the mod-log channel does not exist (%w); dead-lettered: set another mod-log channel in the moderation settings", err)
		log.Error("mod-log post dead-lettered", "err", err)
		return bus.Permanent(err)
	}
	return w.classify(log, job, "post to the mod-log", err)
}

// nonce is at most 25 characters, as Discord requires; a case's closing
// post has its own, or Discord would drop it as the opening post again.
func nonce(guild, number int64, closed bool) string {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/%d", guild, number)
	prefix := "case"
	if closed {
		prefix = "shut"
	}
	return prefix + strconv.FormatUint(h.Sum64(), 36)
}

// closedEmbed says that a moderator closed a case: by whom, reversed or
// only resolved, and the note, below what the case was.
func closedEmbed(c moderation.Case) discord.Embed {
	e := CaseEmbed(c)
	what := "resolved"
	if c.State == moderation.StateReversed {
		what = "reversed"
		switch c.Action {
		case automod.ActionBan:
			what += ": the ban is lifted"
		case automod.ActionTimeout:
			what += ": the timeout is removed"
		}
	}
	e.Title = fmt.Sprintf("Case #%d · %s %s", c.Number, c.Action, what)
	e.Color = 0x2ECC71
	by := "a moderator"
	if c.ResolvedBy != 0 {
		by = discord.UserMention(snowflake.ID(c.ResolvedBy))
	}
	e.Description = "Closed by " + by + "."
	if !c.ResolvedAt.IsZero() {
		at := c.ResolvedAt
		e.Timestamp = &at
	}
	return e
}

var actionColors = map[string]int{
	"warn": 0xF1C40F, "timeout": 0xE67E22, "kick": 0xE74C3C, "ban": 0x992D22, "delete": 0x95A5A6,
	"unban": 0x2ECC71, "untimeout": 0x2ECC71,
}

// CaseEmbed shows a case as the mod-log and the moderator commands do.
func CaseEmbed(c moderation.Case) discord.Embed {
	inline := func(name, value string) discord.EmbedField {
		t := true
		return discord.EmbedField{Name: name, Value: value, Inline: &t}
	}
	target := discord.UserMention(snowflake.ID(c.TargetID))
	if c.TargetName != "" {
		target += " (" + c.TargetName + ")"
	}
	moderator := "automod"
	if c.ModeratorID != 0 {
		moderator = discord.UserMention(snowflake.ID(c.ModeratorID))
	}
	e := discord.Embed{
		Title: fmt.Sprintf("Case #%d · %s", c.Number, c.Action),
		Color: actionColors[string(c.Action)],
		Fields: []discord.EmbedField{
			inline("Member", target),
			inline("Moderator", moderator),
			inline("State", c.State),
		},
		Footer: &discord.EmbedFooter{Text: fmt.Sprintf("member id %d", c.TargetID)},
	}
	at := c.At
	e.Timestamp = &at
	if c.RuleName != "" {
		e.Fields = append(e.Fields, inline("Rule", c.RuleName))
	}
	if c.Duration > 0 {
		e.Fields = append(e.Fields, inline("Duration", FormatDuration(time.Duration(c.Duration)*time.Second)))
	}
	reason := c.Reason
	if reason == "" {
		reason = "no reason given"
	}
	e.Fields = append(e.Fields, discord.EmbedField{Name: "Reason", Value: truncate(reason, 1024)})
	if c.Note != "" {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Note", Value: truncate(c.Note, 1024)})
	}
	return e
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// FormatDuration writes a duration the way moderators type it: 10m, 2h, 1d 12h.
func FormatDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	out := ""
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	return out
}
