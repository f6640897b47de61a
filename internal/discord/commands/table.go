package commands

import (
	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/omit"
)

// This file is the bot's whole Discord surface: every slash command as
// registered with Discord, and every handler by command path or component
// route. A component's custom_id is "<route>:<args>:<owner>:<expires>"
// (router.go), so the route is all that appears here.

// routes maps command paths and component routes to handlers.
func (r *Router) routes() (commands, components map[string]handlerFunc) {
	commands = map[string]handlerFunc{
		"/bytes/send":     r.bytesSend,     // send <user> <amount> [reason]
		"/bytes/read":     r.bytesRead,     // read [user]: balance, received, sent, streak, earned roles
		"/bytes/awards":   r.bytesAwards,   // awards [user]: re-check and queue missing reward roles
		"/bytes/heap":     r.bytesHeap,     // heap [limit]: leaderboard
		"/squads/list":    r.squadsList,    // every squad with cost and members
		"/squads/join":    r.squadsJoin,    // select menu of squads -> squads:pick
		"/squads/leave":   r.squadsLeave,   // confirmation -> squads:leave
		"/squads/info":    r.squadsInfo,    // info [user]: a member's squad
		"/squads/members": r.squadsMembers, // members <squad>
		// Moderation (moderation.go). Discord cannot have both "/case <number>"
		// and subcommands of /case, so a case is shown with /case show.
		"/warn":         r.modWarn,     // warn <user> [reason]: Moderate Members
		"/timeout":      r.modTimeout,  // timeout <user> <duration> [reason]: Moderate Members
		"/kick":         r.modKick,     // kick <user> [reason]: Kick Members
		"/ban":          r.modBan,      // ban <user> [reason]: Ban Members
		"/unban":        r.modUnban,    // unban <user_id> [reason]: Ban Members
		"/case/show":    r.caseShow,    // case show <number>: Moderate Members
		"/case/resolve": r.caseResolve, // case resolve <number> <note> [reverse]: Moderate Members
		"/cases":        r.casesOf,     // cases <user>: Moderate Members
	}
	components = map[string]handlerFunc{
		"squads:pick":   r.squadsPick,         // select: a squad -> confirmation with the cost
		"squads:join":   r.squadsJoinConfirm,  // button: confirm joining squad <arg0>
		"squads:leave":  r.squadsLeaveConfirm, // button: confirm leaving
		"squads:cancel": r.squadsCancel,       // button: cancel a join or a leave
	}
	return commands, components
}

// reopen names, by component route, the command that opens the menu again;
// the note on a menu that expired unused quotes it (expiry.go).
var reopen = map[string]string{
	"squads:pick":  "/squads join",
	"squads:join":  "/squads join",
	"squads:leave": "/squads leave",
}

func ptr[T any](v T) *T { return &v }

// Definitions are the application commands the bot registers (bulk
// overwrite) on start.
func Definitions() []discord.ApplicationCommandCreate {
	guildOnly := []discord.InteractionContextType{discord.InteractionContextTypeGuild}
	return append([]discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{
			Name: "bytes", Description: "The server's bytes economy", Contexts: guildOnly,
			Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionSubCommand{Name: "send", Description: "Send bytes to another member",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionUser{Name: "user", Description: "Who receives the bytes", Required: true},
						discord.ApplicationCommandOptionInt{Name: "amount", Description: "How many bytes", Required: true, MinValue: ptr(1)},
						discord.ApplicationCommandOptionString{Name: "reason", Description: "Why (shown in the ledger)", MaxLength: ptr(200)},
					}},
				discord.ApplicationCommandOptionSubCommand{Name: "read", Description: "Show a balance, totals, streak and earned roles",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionUser{Name: "user", Description: "Whose bytes (default: yours)"},
					}},
				discord.ApplicationCommandOptionSubCommand{Name: "awards", Description: "Re-check and grant the reward roles earned",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionUser{Name: "user", Description: "Whose roles (default: yours)"},
					}},
				discord.ApplicationCommandOptionSubCommand{Name: "heap", Description: "The leaderboard",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionInt{Name: "limit", Description: "How many members (1-100, default 10)", MinValue: ptr(1), MaxValue: ptr(100)},
					}},
			},
		},
		discord.SlashCommandCreate{
			Name: "squads", Description: "The server's squads (teams)", Contexts: guildOnly,
			Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionSubCommand{Name: "list", Description: "List the squads"},
				discord.ApplicationCommandOptionSubCommand{Name: "join", Description: "Join or switch to a squad"},
				discord.ApplicationCommandOptionSubCommand{Name: "leave", Description: "Leave your squad"},
				discord.ApplicationCommandOptionSubCommand{Name: "info", Description: "Show a member's squad",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionUser{Name: "user", Description: "Whose squad (default: yours)"},
					}},
				discord.ApplicationCommandOptionSubCommand{Name: "members", Description: "List a squad's members",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionString{Name: "squad", Description: "The squad's name", Required: true},
					}},
			},
		},
	}, moderationDefinitions(guildOnly)...)
}

// moderationDefinitions are the moderator commands; default_member_permissions
// hides them from members without the permission (the handlers check again).
func moderationDefinitions(guildOnly []discord.InteractionContextType) []discord.ApplicationCommandCreate {
	perm := func(p discord.Permissions) omit.Omit[*discord.Permissions] { return omit.NewPtr(p) }
	user := func(desc string) discord.ApplicationCommandOption {
		return discord.ApplicationCommandOptionUser{Name: "user", Description: desc, Required: true}
	}
	reason := discord.ApplicationCommandOptionString{Name: "reason", Description: "Why (shown in the case, the mod-log and to the member)", MaxLength: ptr(500)}
	return []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "warn", Description: "Warn a member (a case; repeated warnings may escalate)", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionModerateMembers),
			Options:                  []discord.ApplicationCommandOption{user("Who to warn"), reason}},
		discord.SlashCommandCreate{Name: "timeout", Description: "Time a member out", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionModerateMembers),
			Options: []discord.ApplicationCommandOption{user("Who to time out"),
				discord.ApplicationCommandOptionString{Name: "duration", Description: "How long: 10m, 2h, 1d (at most 28d)", Required: true, MaxLength: ptr(20)},
				reason}},
		discord.SlashCommandCreate{Name: "kick", Description: "Remove a member from the server", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionKickMembers),
			Options:                  []discord.ApplicationCommandOption{user("Who to kick"), reason}},
		discord.SlashCommandCreate{Name: "ban", Description: "Ban a member (or any user) from the server", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionBanMembers),
			Options:                  []discord.ApplicationCommandOption{user("Who to ban"), reason}},
		discord.SlashCommandCreate{Name: "unban", Description: "Lift a ban", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionBanMembers),
			Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionString{Name: "user_id", Description: "The banned user's id", Required: true, MaxLength: ptr(20)},
				reason}},
		discord.SlashCommandCreate{Name: "case", Description: "Moderation cases", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionModerateMembers),
			Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionSubCommand{Name: "show", Description: "Show a case by number",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionInt{Name: "number", Description: "The case number", Required: true, MinValue: ptr(1)},
					}},
				discord.ApplicationCommandOptionSubCommand{Name: "resolve", Description: "Close a case with a note",
					Options: []discord.ApplicationCommandOption{
						discord.ApplicationCommandOptionInt{Name: "number", Description: "The case number", Required: true, MinValue: ptr(1)},
						discord.ApplicationCommandOptionString{Name: "note", Description: "Why it is closed", Required: true, MaxLength: ptr(500)},
						discord.ApplicationCommandOptionBool{Name: "reverse", Description: "Also lift the ban or timeout (default: no)"},
					}},
			}},
		discord.SlashCommandCreate{Name: "cases", Description: "List a member's cases", Contexts: guildOnly,
			DefaultMemberPermissions: perm(discord.PermissionModerateMembers),
			Options:                  []discord.ApplicationCommandOption{user("Whose cases")}},
	}
}
