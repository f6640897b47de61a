package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
)

func inline(name, value string) discord.EmbedField {
	return discord.EmbedField{Name: name, Value: value, Inline: ptr(true)}
}

func mention(id int64) string { return discord.UserMention(snowflake.ID(id)) }

// target is the member named by the optional "user" option, or the caller.
func target(r *Request) (m economy.Member, roles []snowflake.ID, self bool) {
	u, ok := r.Slash.OptUser("user")
	if !ok || int64(u.ID) == r.Caller.ID {
		return r.Caller, r.CallerRoles, true
	}
	m = economy.Member{ID: int64(u.ID), Name: u.EffectiveName(), Bot: u.Bot}
	if rm, ok := r.Slash.OptMember("user"); ok {
		m.Name = displayName(rm.Member, u)
		roles = rm.RoleIDs
	}
	return m, roles, false
}

func displayName(m discord.Member, u discord.User) string {
	if m.Nick != nil && *m.Nick != "" {
		return *m.Nick
	}
	return u.EffectiveName()
}

func (r *Router) bytesSend(ctx context.Context, req *Request) (Reply, error) {
	to, _, self := target(req)
	if self {
		return Reply{}, apperr.InvalidField("user", "you cannot send bytes to yourself")
	}
	if to.Bot {
		return refusal("Bots cannot receive bytes", fmt.Sprintf("%s is a bot; bytes are for members.", mention(to.ID)),
			"Pick a member instead."), nil
	}
	amount, _ := req.Slash.OptInt("amount")
	reason, _ := req.Slash.OptString("reason")
	res, err := r.d.Economy.Transfer(ctx, req.GuildID, economy.TransferRequest{
		Giver: req.Caller, Receiver: to, Amount: int64(amount), Reason: reason,
	})
	if err != nil {
		return Reply{}, err
	}
	e := discord.Embed{
		Title:       "Bytes sent",
		Description: fmt.Sprintf("%s sent **%d** bytes to %s.", mention(req.Caller.ID), res.Amount, mention(to.ID)),
		Color:       colorOK,
		Fields: []discord.EmbedField{
			inline(req.Caller.Name+"'s balance", fmt.Sprintf("%d bytes", res.Giver.Balance)),
			inline(to.Name+"'s balance", fmt.Sprintf("%d bytes", res.Receiver.Balance)),
		},
	}
	if res.Reason != "" {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Reason", Value: res.Reason})
	}
	if len(res.RolesEarned) > 0 {
		e.Fields = append(e.Fields, discord.EmbedField{Name: "Roles earned", Value: roleList(res.RolesEarned) + " (granted in a moment)"})
	}
	return Reply{Embeds: []discord.Embed{e}}, nil
}

func roleList(rs []economy.RoleReward) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, discord.RoleMention(snowflake.ID(r.RoleID)))
	}
	return strings.Join(parts, ", ")
}

func (r *Router) bytesRead(ctx context.Context, req *Request) (Reply, error) {
	who, _, _ := target(req)
	acc, err := r.d.Economy.Balance(ctx, req.GuildID, who.ID)
	if err != nil {
		return Reply{}, err
	}
	cfg, err := r.d.Economy.Config(ctx, req.GuildID)
	if err != nil {
		return Reply{}, err
	}
	streak := fmt.Sprintf("%d day(s)", acc.Streak)
	if t, ok := cfg.Tier(acc.Streak); ok {
		streak += fmt.Sprintf(" · %s x%d", t.Name, t.Multiplier)
	}
	earned := economy.RolesDue(cfg, acc.TotalReceived)
	roles := "none yet"
	if len(earned) > 0 {
		roles = roleList(earned)
	}
	e := discord.Embed{
		Title:       who.Name + "'s bytes",
		Description: mention(who.ID),
		Color:       colorInfo,
		Fields: []discord.EmbedField{
			inline("Balance", fmt.Sprintf("%d bytes", acc.Balance)),
			inline("Received", fmt.Sprintf("%d bytes", acc.TotalReceived)),
			inline("Sent", fmt.Sprintf("%d bytes", acc.TotalSent)),
			inline("Streak", streak),
			{Name: "Earned roles", Value: roles},
		},
	}
	return Reply{Embeds: []discord.Embed{e}}, nil
}

// bytesAwards compares the reward roles due with the member's roles as
// Discord reports them in this interaction, and queues the missing grants.
func (r *Router) bytesAwards(ctx context.Context, req *Request) (Reply, error) {
	who, roles, self := target(req)
	if who.Bot {
		return refusal("Bots earn no roles", "Bots have no bytes, so no reward roles are due.", ""), nil
	}
	if _, isMember := req.Slash.OptMember("user"); !self && !isMember {
		return refusal("Member not found", fmt.Sprintf("%s is not a member of this server.", mention(who.ID)), ""), nil
	}
	due, err := r.d.Economy.DueRoles(ctx, req.GuildID, who.ID)
	if err != nil {
		return Reply{}, err
	}
	var missing []economy.RoleReward
	for _, d := range due {
		if !slices.Contains(roles, snowflake.ID(d.RoleID)) {
			missing = append(missing, d)
		}
	}
	for _, m := range missing {
		payload, err := json.Marshal(jobs.RoleChange{GuildID: req.GuildID, UserID: who.ID, RoleID: m.RoleID, Add: true,
			Reason: fmt.Sprintf("bytes reward re-check: received %d bytes", m.Threshold)})
		if err != nil {
			return Reply{}, err
		}
		if _, err := r.d.Bus.Enqueue(ctx, jobs.QueueRoles, payload, nil); err != nil {
			return Reply{}, fmt.Errorf("queue role grant: %w", err)
		}
	}
	e := discord.Embed{Title: "Reward roles", Color: colorOK}
	switch {
	case len(due) == 0:
		e.Description = fmt.Sprintf("%s has not reached any reward threshold yet.", mention(who.ID))
	case len(missing) == 0:
		e.Description = fmt.Sprintf("%s already has every reward role earned: %s.", mention(who.ID), roleList(due))
	default:
		e.Description = fmt.Sprintf("Granting %s to %s; they appear in a moment.", roleList(missing), mention(who.ID))
	}
	return Reply{Embeds: []discord.Embed{e}, Ephemeral: true}, nil
}

func (r *Router) bytesHeap(ctx context.Context, req *Request) (Reply, error) {
	limit, _ := req.Slash.OptInt("limit")
	lb, err := r.d.Economy.Heap(ctx, req.GuildID, limit, req.Caller.ID)
	if err != nil {
		return Reply{}, err
	}
	lines := make([]string, 0, len(lb.Top))
	for _, s := range lb.Top {
		lines = append(lines, fmt.Sprintf("**%d.** %s · %d bytes", s.Rank, mention(s.UserID), s.Balance))
	}
	if len(lb.Top) == 0 {
		lines = append(lines, "Nobody has bytes yet. Say something to earn your first daily reward!")
	}
	embeds := lineEmbeds("The heap", colorInfo, lines) // a hundred lines need two embeds
	if lb.Caller != nil {
		embeds[len(embeds)-1].Footer = &discord.EmbedFooter{Text: fmt.Sprintf("Your rank: #%d with %d bytes", lb.Caller.Rank, lb.Caller.Balance)}
	}
	return Reply{Embeds: embeds}, nil
}
