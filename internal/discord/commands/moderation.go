package commands

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/modactions"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

// Moderator commands: each checks the caller's Discord permission (the
// interaction carries the member's computed permissions), refuses acting on
// oneself, the bot and members of equal or higher standing, and opens a case
// through the moderation service; the worker carries out the action.

// modPermission is a Discord permission a moderator command needs.
type modPermission struct {
	bit  discord.Permissions
	name string
}

var (
	permModerate = modPermission{discord.PermissionModerateMembers, "Moderate Members"}
	permKick     = modPermission{discord.PermissionKickMembers, "Kick Members"}
	permBan      = modPermission{discord.PermissionBanMembers, "Ban Members"}
)

// missingPermissionError: the caller lacks the command's Discord permission.
type missingPermissionError struct {
	Command    string
	Permission string
}

func (e *missingPermissionError) Error() string {
	return fmt.Sprintf("%s needs the %s permission", e.Command, e.Permission)
}
func (e *missingPermissionError) Code() apperr.Code { return apperr.Forbidden }

// protectedTargetError: the member may not be acted on by the caller.
type protectedTargetError struct{ Why string }

func (e *protectedTargetError) Error() string     { return e.Why }
func (e *protectedTargetError) Code() apperr.Code { return apperr.Forbidden }

func (r *Router) moderation() (*moderation.Service, error) {
	if r.d.Moderation == nil {
		return nil, apperr.New(apperr.Unavailable, "moderation is not available in this process")
	}
	return r.d.Moderation, nil
}

// callerPerms are the caller's permissions in the channel, as Discord computed them.
func callerPerms(req *Request) discord.Permissions {
	if m := req.Interaction.Member(); m != nil {
		return m.Permissions
	}
	return 0
}

// require checks the caller holds p (Administrator implies every permission).
func require(req *Request, p modPermission) error {
	perms := callerPerms(req)
	if perms.Has(discord.PermissionAdministrator) || perms.Has(p.bit) {
		return nil
	}
	return &missingPermissionError{Command: "/" + strings.TrimPrefix(strings.ReplaceAll(req.Slash.CommandPath(), "/", " "), " "), Permission: p.name}
}

// rank ranks members for "who may act on whom": 2 administrators, 1
// moderators (any moderation permission), 0 everyone else.
func rank(p discord.Permissions) int {
	switch {
	case p.Has(discord.PermissionAdministrator):
		return 2
	case p&(discord.PermissionManageGuild|discord.PermissionModerateMembers|discord.PermissionKickMembers|
		discord.PermissionBanMembers|discord.PermissionManageMessages) != 0:
		return 1
	}
	return 0
}

// modTarget is the member named by the "user" option.
type modTarget struct {
	ID     int64
	Name   string
	Member bool // in the server now
}

// targetOf reads the "user" option and refuses oneself, the bot, and members
// whose standing is not below the caller's.
func targetOf(req *Request, needMember bool) (modTarget, error) {
	u, ok := req.Slash.OptUser("user")
	if !ok {
		return modTarget{}, apperr.InvalidField("user", "name the member")
	}
	t := modTarget{ID: int64(u.ID), Name: u.EffectiveName()}
	switch {
	case t.ID == req.Caller.ID:
		return t, &protectedTargetError{Why: "You cannot moderate yourself."}
	case u.ID == req.Interaction.ApplicationID():
		return t, &protectedTargetError{Why: "The bot does not moderate itself."}
	}
	rm, isMember := req.Slash.OptMember("user")
	if isMember {
		t.Member = true
		t.Name = displayName(rm.Member, u)
		if rank(rm.Permissions) >= max(rank(callerPerms(req)), 1) {
			return t, &protectedTargetError{Why: fmt.Sprintf("%s is a moderator or administrator at or above your level; ask someone above them.", mention(t.ID))}
		}
	}
	if needMember && !t.Member {
		return t, &protectedTargetError{Why: fmt.Sprintf("%s is not a member of this server.", mention(t.ID))}
	}
	return t, nil
}

func (r *Router) openCase(ctx context.Context, req *Request, perm modPermission, action automod.Action, needMember bool, d time.Duration) (Reply, error) {
	if err := require(req, perm); err != nil {
		return Reply{}, err
	}
	mod, err := r.moderation()
	if err != nil {
		return Reply{}, err
	}
	t, err := targetOf(req, needMember)
	if err != nil {
		return Reply{}, err
	}
	reason, _ := req.Slash.OptString("reason")
	opened, err := mod.Open(ctx, req.GuildID, moderation.Input{TargetID: t.ID, TargetName: t.Name, ModeratorID: req.Caller.ID,
		Action: action, Reason: reason, Duration: d})
	if err != nil {
		return Reply{}, err
	}
	return openedReply(opened), nil
}

var caseVerbs = map[automod.Action]string{
	automod.ActionWarn: "warned", automod.ActionTimeout: "timed out", automod.ActionKick: "kicked",
	automod.ActionBan: "banned", moderation.ActionUnban: "unbanned", moderation.ActionUntimeout: "released from timeout",
}

// openedReply shows the case, and the escalation it triggered.
func openedReply(o moderation.Opened) Reply {
	c := o.Case
	e := modactions.CaseEmbed(c)
	e.Description = fmt.Sprintf("%s %s · case **#%d**.", mention(c.TargetID), caseVerbs[c.Action], c.Number)
	embeds := []discord.Embed{e}
	if x := o.Escalation; x != nil {
		esc := modactions.CaseEmbed(*x)
		esc.Description = fmt.Sprintf("⚠️ Escalation: this warning reached the server's limit, so %s is %s too · case **#%d**.",
			mention(x.TargetID), caseVerbs[x.Action], x.Number)
		embeds = append(embeds, esc)
	}
	return Reply{Embeds: embeds}
}

func (r *Router) modWarn(ctx context.Context, req *Request) (Reply, error) {
	return r.openCase(ctx, req, permModerate, automod.ActionWarn, true, 0)
}

func (r *Router) modTimeout(ctx context.Context, req *Request) (Reply, error) {
	s, _ := req.Slash.OptString("duration")
	d, err := ParseDuration(s)
	if err != nil {
		return Reply{}, err
	}
	return r.openCase(ctx, req, permModerate, automod.ActionTimeout, true, d)
}

func (r *Router) modKick(ctx context.Context, req *Request) (Reply, error) {
	return r.openCase(ctx, req, permKick, automod.ActionKick, true, 0)
}

func (r *Router) modBan(ctx context.Context, req *Request) (Reply, error) {
	return r.openCase(ctx, req, permBan, automod.ActionBan, false, 0)
}

func (r *Router) modUnban(ctx context.Context, req *Request) (Reply, error) {
	if err := require(req, permBan); err != nil {
		return Reply{}, err
	}
	mod, err := r.moderation()
	if err != nil {
		return Reply{}, err
	}
	s, _ := req.Slash.OptString("user_id")
	id, err := snowflake.Parse(strings.TrimSpace(s))
	if err != nil || id == 0 {
		return Reply{}, apperr.InvalidField("user_id", "must be a Discord user id (digits, e.g. 80351110224678912), got %q", s)
	}
	reason, _ := req.Slash.OptString("reason")
	opened, err := mod.Unban(ctx, req.GuildID, int64(id), req.Caller.ID, reason)
	if err != nil {
		return Reply{}, err
	}
	return openedReply(opened), nil
}

func (r *Router) caseShow(ctx context.Context, req *Request) (Reply, error) {
	if err := require(req, permModerate); err != nil {
		return Reply{}, err
	}
	mod, err := r.moderation()
	if err != nil {
		return Reply{}, err
	}
	n, _ := req.Slash.OptInt("number")
	c, err := mod.Case(ctx, req.GuildID, int64(n))
	if err != nil {
		return Reply{}, err
	}
	return Reply{Embeds: []discord.Embed{modactions.CaseEmbed(c)}, Ephemeral: true}, nil
}

func (r *Router) caseResolve(ctx context.Context, req *Request) (Reply, error) {
	if err := require(req, permModerate); err != nil {
		return Reply{}, err
	}
	mod, err := r.moderation()
	if err != nil {
		return Reply{}, err
	}
	n, _ := req.Slash.OptInt("number")
	note, _ := req.Slash.OptString("note")
	reverse, _ := req.Slash.OptBool("reverse")
	c, err := mod.Resolve(ctx, req.GuildID, int64(n), req.Caller.ID, note, reverse)
	if err != nil {
		return Reply{}, err
	}
	e := modactions.CaseEmbed(c)
	e.Description = fmt.Sprintf("Case **#%d** %s by %s.", c.Number, c.State, mention(req.Caller.ID))
	if reverse && (c.Action == automod.ActionBan || c.Action == automod.ActionTimeout) {
		e.Description += " The " + string(c.Action) + " is lifted in a moment."
	}
	return Reply{Embeds: []discord.Embed{e}}, nil
}

func (r *Router) casesOf(ctx context.Context, req *Request) (Reply, error) {
	if err := require(req, permModerate); err != nil {
		return Reply{}, err
	}
	mod, err := r.moderation()
	if err != nil {
		return Reply{}, err
	}
	u, _ := req.Slash.OptUser("user")
	cs, err := mod.Cases(ctx, req.GuildID, moderation.Filter{TargetID: int64(u.ID), Limit: 15})
	if err != nil {
		return Reply{}, err
	}
	e := discord.Embed{Title: "Cases of " + u.EffectiveName(), Color: colorInfo}
	if len(cs) == 0 {
		e.Description = fmt.Sprintf("%s has no cases in this server.", mention(int64(u.ID)))
		return Reply{Embeds: []discord.Embed{e}, Ephemeral: true}, nil
	}
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "**#%d** · %s", c.Number, c.Action)
		if c.Duration > 0 {
			b.WriteString(" " + modactions.FormatDuration(time.Duration(c.Duration)*time.Second))
		}
		fmt.Fprintf(&b, " · <t:%d:R> · %s", c.At.Unix(), c.State)
		if c.Reason != "" {
			b.WriteString(" · " + truncate(c.Reason, 80))
		}
		b.WriteString("\n")
	}
	e.Description = b.String()
	e.Footer = &discord.EmbedFooter{Text: "Newest first; /case show <number> for details"}
	return Reply{Embeds: []discord.Embed{e}, Ephemeral: true}, nil
}

var durationPart = regexp.MustCompile(`(\d+)\s*([smhdw])`)
var durationWhole = regexp.MustCompile(`^\s*(\d+\s*[smhdw]\s*)+$`)

// ParseDuration reads a timeout length as moderators type it: 10m, 2h, 1d,
// 1h30m; between 1 minute and 28 days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.ToLower(s)
	if !durationWhole.MatchString(s) {
		return 0, apperr.InvalidField("duration", "write it like 10m, 2h or 1d (s, m, h, d, w), got %q", s)
	}
	var d time.Duration
	units := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	for _, p := range durationPart.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(p[1], 10, 64)
		if err != nil || n > 100000 {
			return 0, apperr.InvalidField("duration", "%q is too long: at most 28 days", s)
		}
		d += time.Duration(n) * units[p[2]]
	}
	if d < time.Minute || d > automod.MaxTimeout {
		return 0, apperr.InvalidField("duration", "a timeout lasts between 1 minute and 28 days, got %s", modactions.FormatDuration(d))
	}
	return d, nil
}
