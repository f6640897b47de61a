package emulator

import "time"

// Demo holds the ids of the demo guild created by SeedDemo.
type Demo struct {
	GuildID     ID            `json:"guild_id"`
	OwnerID     ID            `json:"owner_id"`
	AdminID     ID            `json:"admin_id"`
	ModeratorID ID            `json:"moderator_id"`
	BotID       ID            `json:"bot_id"`
	MemberIDs   []ID          `json:"member_ids"` // regular members
	General     ID            `json:"general"`
	BotCommands ID            `json:"bot_commands"`
	ModLog      ID            `json:"mod_log"`
	Roles       map[string]ID `json:"roles"`
	Members     map[string]ID `json:"members"` // by username
	Channels    map[string]ID `json:"channels"`
}

// Demo role names.
const (
	RoleAdmin       = "Admin"
	RoleModerator   = "Moderator"
	RoleBot         = "Smarter Bot"
	RoleGophers     = "Squad: Gophers"
	RoleRustaceans  = "Squad: Rustaceans"
	RoleHelper      = "Reward: Helper"
	RoleContributor = "Reward: Contributor"
)

// SeedDemo creates "Smarter Dev Demo": owner, admin (Manage Server, not
// Administrator, so permission checks are meaningful), moderator, five
// regular members with different account ages (one a day-old account), the
// bot, squad and reward roles, and the general/bot-commands/mod-log channels.
func (e *Emulator) SeedDemo() *Demo {
	now := time.Now().UTC()
	day := 24 * time.Hour
	created := time.Date(2022, 1, 10, 15, 0, 0, 0, time.UTC)
	modPerms := PermDefaultEveryone | PermKickMembers | PermBanMembers | PermManageMessages | PermModerateMembers
	ids, err := e.SeedGuild(GuildSpec{
		Name:      "Smarter Dev Demo",
		CreatedAt: created,
		Roles: []RoleSpec{
			{Name: RoleGophers, Permissions: Perms(PermDefaultEveryone), Position: 1, Color: 0x00ADD8},
			{Name: RoleRustaceans, Permissions: Perms(PermDefaultEveryone), Position: 2, Color: 0xDEA584},
			{Name: RoleHelper, Permissions: 0, Position: 3, Color: 0x2ECC71},
			{Name: RoleContributor, Permissions: 0, Position: 4, Color: 0xF1C40F, Hoist: true},
			{Name: RoleModerator, Permissions: Perms(modPerms), Position: 5, Color: 0x3498DB, Hoist: true},
			{Name: RoleBot, Permissions: Perms(modPerms | PermManageRoles | 1<<27 | PermManageChannels), Position: 6, Managed: true},
			{Name: RoleAdmin, Permissions: Perms(modPerms | PermManageGuild | PermManageRoles | PermManageChannels), Position: 7, Color: 0xE74C3C, Hoist: true},
		},
		Channels: []ChannelSpec{
			{Name: "general", Topic: "Say hi!"},
			{Name: "bot-commands", Topic: "Talk to the bot here"},
			{Name: "mod-log", Topic: "Moderation actions"},
			{Name: "Lounge", Type: 2},
		},
		Members: []MemberSpec{
			{Username: "ada", GlobalName: "Ada Owner", Owner: true, CreatedAt: time.Date(2016, 3, 1, 9, 0, 0, 0, time.UTC), JoinedAt: created, Avatar: "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
			{Username: "grace", GlobalName: "Grace Admin", CreatedAt: time.Date(2017, 6, 15, 9, 0, 0, 0, time.UTC), JoinedAt: created.Add(day), Roles: []string{RoleAdmin}},
			{Username: "linus", GlobalName: "Linus Mod", CreatedAt: time.Date(2018, 9, 1, 9, 0, 0, 0, time.UTC), JoinedAt: created.Add(3 * day), Roles: []string{RoleModerator}},
			{Username: "gopher_gary", GlobalName: "Gary", CreatedAt: time.Date(2019, 2, 2, 9, 0, 0, 0, time.UTC), JoinedAt: created.Add(30 * day), Roles: []string{RoleGophers, RoleHelper}, Avatar: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
			{Username: "rusty_rita", GlobalName: "Rita", CreatedAt: time.Date(2020, 11, 20, 9, 0, 0, 0, time.UTC), JoinedAt: created.Add(90 * day), Roles: []string{RoleRustaceans, RoleContributor}},
			{Username: "quiet_quinn", CreatedAt: time.Date(2023, 5, 5, 9, 0, 0, 0, time.UTC), JoinedAt: now.Add(-60 * day)},
			{Username: "trouble_tom", GlobalName: "Tom", CreatedAt: now.Add(-45 * day), JoinedAt: now.Add(-10 * day), Nick: "tommy"},
			{Username: "newbie_ned", GlobalName: "Ned", CreatedAt: now.Add(-1 * day), JoinedAt: now.Add(-1 * time.Hour)},
		},
		BotRoles: []string{RoleBot},
	})
	if err != nil {
		panic("emulator: demo seed: " + err.Error())
	}
	d := &Demo{GuildID: ids.GuildID, OwnerID: ids.OwnerID, BotID: e.appID, Roles: ids.Roles, Members: ids.Members,
		Channels: ids.Channels, AdminID: ids.Members["grace"], ModeratorID: ids.Members["linus"],
		General: ids.Channels["general"], BotCommands: ids.Channels["bot-commands"], ModLog: ids.Channels["mod-log"]}
	for _, n := range []string{"gopher_gary", "rusty_rita", "quiet_quinn", "trouble_tom", "newbie_ned"} {
		d.MemberIDs = append(d.MemberIDs, ids.Members[n])
	}
	e.mu.Lock()
	e.demo = d
	e.mu.Unlock()
	return d
}

// Demo returns the ids of the last SeedDemo call (nil if never seeded); it is
// how tests using NewTest find the demo guild.
func (e *Emulator) Demo() *Demo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.demo
}
