package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
)

func (r *Router) squadsList(ctx context.Context, req *Request) (Reply, error) {
	list, err := r.d.Squads.List(ctx, req.GuildID)
	if err != nil {
		return Reply{}, err
	}
	if len(list) == 0 {
		return Reply{Embeds: []discord.Embed{{Title: "Squads", Color: colorInfo,
			Description: "This server has no squads yet; an admin can create them in the dashboard."}}}, nil
	}
	var active []squads.Squad
	for _, sq := range list {
		if sq.Active {
			active = append(active, sq)
		}
	}
	var embeds []discord.Embed
	if len(active) <= maxFields {
		e := discord.Embed{Title: "Squads", Color: colorInfo}
		for _, sq := range active {
			e.Fields = append(e.Fields, discord.EmbedField{Name: sq.Name, Value: squadLine(sq)})
		}
		embeds = []discord.Embed{e}
	} else { // more than an embed's fields: one line each, without descriptions
		lines := make([]string, 0, len(active))
		for _, sq := range active {
			sq.Description = "" // a copy: one line each
			lines = append(lines, "**"+sq.Name+"** · "+squadLine(sq))
		}
		embeds = lineEmbeds("Squads", colorInfo, lines)
	}
	embeds[len(embeds)-1].Footer = &discord.EmbedFooter{Text: "Joining your first squad is free; switching costs the target's price. /squads join"}
	return Reply{Embeds: embeds}, nil
}

func squadLine(sq squads.Squad) string {
	members := strconv.Itoa(sq.Members)
	if sq.MaxMembers > 0 {
		members += "/" + strconv.Itoa(sq.MaxMembers)
	}
	line := fmt.Sprintf("%s · switch cost %d bytes · %s members", discord.RoleMention(snowflake.ID(sq.RoleID)), sq.SwitchCost, members)
	if sq.Description != "" {
		line = sq.Description + "\n" + line
	}
	return line
}

// standing is what decides a member's squad choices.
type standing struct {
	current int64 // 0: in no squad
	balance int64
	min     int64
}

func (r *Router) standingOf(ctx context.Context, guild int64, m economy.Member) (standing, error) {
	var st standing
	acc, err := r.d.Economy.Balance(ctx, guild, m.ID)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return st, err
	}
	st.balance = acc.Balance
	cfg, err := r.d.Economy.Config(ctx, guild)
	if err != nil {
		return st, err
	}
	st.min = cfg.SquadMinBalance
	mem, err := r.d.Squads.Of(ctx, guild, m.ID)
	if err == nil {
		st.current = mem.Squad.ID
	} else if !apperr.Is(err, apperr.NotFound) {
		return st, err
	}
	return st, nil
}

// eligibility is why the member cannot join sq now, or nil.
func (st standing) eligibility(sq squads.Squad) error {
	if err := squads.CheckJoin(st.current, sq, st.min, st.balance); err != nil {
		return err
	}
	if cost := squads.Cost(st.current, sq); cost > st.balance {
		return &economy.InsufficientFundsError{Balance: st.balance, Needed: cost}
	}
	return nil
}

// squadsJoin shows every active squad with its cost for this member, its
// members and whether they may join, in a select menu that lives 60 s.
func (r *Router) squadsJoin(ctx context.Context, req *Request) (Reply, error) {
	list, err := r.d.Squads.List(ctx, req.GuildID)
	if err != nil {
		return Reply{}, err
	}
	st, err := r.standingOf(ctx, req.GuildID, req.Caller)
	if err != nil {
		return Reply{}, err
	}
	if st.balance < st.min {
		return Reply{}, &squads.NotEligibleError{Balance: st.balance, Minimum: st.min}
	}
	// A select menu offers at most 25 choices: the squads this member can
	// join come first, so a long list never hides the ones that matter.
	var can, cannot []discord.StringSelectMenuOption
	var lines []string
	for _, sq := range list {
		if !sq.Active {
			continue
		}
		cost := squads.Cost(st.current, sq)
		status := "✅ can join"
		eligible := st.eligibility(sq)
		if eligible != nil {
			status = "❌ " + eligible.Error()
		}
		members := strconv.Itoa(sq.Members)
		if sq.MaxMembers > 0 {
			members += "/" + strconv.Itoa(sq.MaxMembers)
		}
		lines = append(lines, fmt.Sprintf("**%s** · cost %d · %s members · %s", sq.Name, cost, members, status))
		if sq.ID == st.current {
			continue
		}
		o := discord.NewStringSelectMenuOption(truncate(sq.Name, 100), strconv.FormatInt(sq.ID, 10)).
			WithDescription(truncate(fmt.Sprintf("cost %d bytes · %s members", cost, members), 100))
		if eligible == nil {
			can = append(can, o)
		} else {
			cannot = append(cannot, o)
		}
	}
	opts := append(can, cannot...)
	if len(opts) == 0 {
		return refusal("No squad to join", "There is no other active squad to join right now.", "See `/squads list`, or ask an admin to open one."), nil
	}
	exp := req.Now.Add(componentTTL)
	intro := fmt.Sprintf("Your balance: **%d** bytes. Pick a squad below; you confirm the cost next. This menu expires <t:%d:R>.", st.balance, exp.Unix())
	if len(opts) > maxSelectOptions {
		intro += fmt.Sprintf(" The menu offers %d of the %d squads, those you can join first.", maxSelectOptions, len(opts))
		opts = opts[:maxSelectOptions]
	}
	embeds := lineEmbeds("Join a squad", colorInfo, append([]string{intro, ""}, lines...))
	return Reply{Embeds: embeds, Components: []discord.LayoutComponent{
		discord.NewActionRow(discord.NewStringSelectMenu(customID("squads:pick", req.Caller.ID, exp), "Choose a squad", opts...)),
		discord.NewActionRow(discord.NewSecondaryButton("Cancel", customID("squads:cancel", req.Caller.ID, exp))),
	}}, nil
}

// squadsPick shows the confirmation with the exact cost.
func (r *Router) squadsPick(ctx context.Context, req *Request) (Reply, error) {
	if len(req.Values) != 1 {
		return Reply{}, apperr.InvalidField("squad", "pick one squad")
	}
	id, err := strconv.ParseInt(req.Values[0], 10, 64)
	if err != nil {
		return Reply{}, apperr.InvalidField("squad", "not a squad id")
	}
	q, err := r.d.Squads.Quote(ctx, req.GuildID, req.Caller, id)
	if err != nil {
		return Reply{}, err
	}
	st, err := r.standingOf(ctx, req.GuildID, req.Caller)
	if err != nil {
		return Reply{}, err
	}
	if err := st.eligibility(q.Squad); err != nil {
		return Reply{}, err
	}
	exp := req.Now.Add(componentTTL)
	desc := fmt.Sprintf("Join **%s** for free.", q.Squad.Name)
	if q.From != nil {
		desc = fmt.Sprintf("Switch from **%s** to **%s** for **%d** bytes.\nYour balance: %d → **%d** bytes.",
			q.From.Name, q.Squad.Name, q.Cost, st.balance, st.balance-q.Cost)
	}
	desc += fmt.Sprintf("\n\nConfirm before <t:%d:T>.", exp.Unix())
	return Reply{Update: true, Embeds: []discord.Embed{{Title: "Confirm: join " + q.Squad.Name, Description: desc, Color: colorInfo}},
		Components: []discord.LayoutComponent{discord.NewActionRow(
			discord.NewSuccessButton(confirmLabel(q.Cost), customID("squads:join", req.Caller.ID, exp, strconv.FormatInt(id, 10))),
			discord.NewSecondaryButton("Cancel", customID("squads:cancel", req.Caller.ID, exp)),
		)}}, nil
}

func confirmLabel(cost int64) string {
	if cost == 0 {
		return "Confirm (free)"
	}
	return fmt.Sprintf("Confirm (%d bytes)", cost)
}

func (r *Router) squadsJoinConfirm(ctx context.Context, req *Request) (Reply, error) {
	if len(req.Args) != 1 {
		return Reply{}, errUnknownComponent
	}
	id, err := strconv.ParseInt(req.Args[0], 10, 64)
	if err != nil {
		return Reply{}, errUnknownComponent
	}
	res, err := r.d.Squads.Join(ctx, req.GuildID, req.Caller, id)
	if err != nil {
		return Reply{}, err
	}
	desc := fmt.Sprintf("%s joined **%s**; the %s role arrives in a moment.", mention(req.Caller.ID), res.Squad.Name,
		discord.RoleMention(snowflake.ID(res.Squad.RoleID)))
	if res.From != nil {
		desc = fmt.Sprintf("%s switched from **%s** to **%s** for **%d** bytes; the roles change in a moment.",
			mention(req.Caller.ID), res.From.Name, res.Squad.Name, res.Cost)
	}
	e := discord.Embed{Title: "Welcome to " + res.Squad.Name, Description: desc, Color: colorOK,
		Fields: []discord.EmbedField{inline("Balance", fmt.Sprintf("%d bytes", res.Account.Balance))}}
	return Reply{Update: true, Embeds: []discord.Embed{e}}, nil
}

func (r *Router) squadsLeave(ctx context.Context, req *Request) (Reply, error) {
	mem, err := r.d.Squads.Of(ctx, req.GuildID, req.Caller.ID)
	if apperr.Is(err, apperr.NotFound) {
		return Reply{}, &squads.NotInSquadError{}
	}
	if err != nil {
		return Reply{}, err
	}
	exp := req.Now.Add(componentTTL)
	e := discord.Embed{Title: "Leave " + mem.Squad.Name + "?", Color: colorInfo,
		Description: fmt.Sprintf("Leaving is free. Joining a squad again later is free too; switching costs the target's price.\n\nConfirm before <t:%d:T>.", exp.Unix())}
	return Reply{Embeds: []discord.Embed{e}, Components: []discord.LayoutComponent{discord.NewActionRow(
		discord.NewDangerButton("Leave "+truncate(mem.Squad.Name, 60), customID("squads:leave", req.Caller.ID, exp)),
		discord.NewSecondaryButton("Cancel", customID("squads:cancel", req.Caller.ID, exp)),
	)}}, nil
}

func (r *Router) squadsLeaveConfirm(ctx context.Context, req *Request) (Reply, error) {
	left, err := r.d.Squads.Leave(ctx, req.GuildID, req.Caller)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Update: true, Embeds: []discord.Embed{{Title: "Left " + left.Name, Color: colorOK,
		Description: fmt.Sprintf("%s left **%s**; the role is removed in a moment.", mention(req.Caller.ID), left.Name)}}}, nil
}

func (r *Router) squadsCancel(_ context.Context, _ *Request) (Reply, error) {
	return Reply{Update: true, Embeds: []discord.Embed{notice("Cancelled", "Nothing was changed.")}}, nil
}

func (r *Router) squadsInfo(ctx context.Context, req *Request) (Reply, error) {
	who, _, self := target(req)
	mem, err := r.d.Squads.Of(ctx, req.GuildID, who.ID)
	if apperr.Is(err, apperr.NotFound) {
		what := "They can join one with `/squads join`."
		if self {
			what = "Join one with `/squads join`."
		}
		return Reply{Embeds: []discord.Embed{notice("No squad", fmt.Sprintf("%s is not in a squad. %s", mention(who.ID), what))}}, nil
	}
	if err != nil {
		return Reply{}, err
	}
	e := discord.Embed{Title: mem.Squad.Name, Color: colorInfo,
		Description: fmt.Sprintf("%s is in **%s** since <t:%d:D>.\n%s", mention(who.ID), mem.Squad.Name, mem.JoinedAt.Unix(), squadLine(mem.Squad))}
	return Reply{Embeds: []discord.Embed{e}}, nil
}

func (r *Router) squadsMembers(ctx context.Context, req *Request) (Reply, error) {
	name := strings.TrimSpace(req.Slash.String("squad"))
	list, err := r.d.Squads.List(ctx, req.GuildID)
	if err != nil {
		return Reply{}, err
	}
	var found *squads.Squad
	for i, sq := range list {
		if strings.EqualFold(sq.Name, name) || strconv.FormatInt(sq.ID, 10) == name {
			found = &list[i]
			break
		}
	}
	if found == nil {
		return refusal("No such squad", fmt.Sprintf("There is no squad called %q here.", name), "See the names with `/squads list`."), nil
	}
	mems, err := r.d.Squads.Members(ctx, req.GuildID, found.ID, 0, 50)
	if err != nil {
		return Reply{}, err
	}
	var b strings.Builder
	for _, m := range mems {
		b.WriteString(mention(m.UserID) + "\n")
	}
	if len(mems) == 0 {
		b.WriteString("Nobody yet. Be the first: `/squads join`.")
	} else if found.Members > len(mems) {
		fmt.Fprintf(&b, "… and %d more", found.Members-len(mems))
	}
	return Reply{Embeds: []discord.Embed{{Title: fmt.Sprintf("%s (%d)", found.Name, found.Members), Description: b.String(), Color: colorInfo}}}, nil
}
