package emulator

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// Permission bits the emulator itself interprets.
const (
	PermKickMembers     uint64 = 1 << 1
	PermBanMembers      uint64 = 1 << 2
	PermAdministrator   uint64 = 1 << 3
	PermManageChannels  uint64 = 1 << 4
	PermManageGuild     uint64 = 1 << 5
	PermViewChannel     uint64 = 1 << 10
	PermSendMessages    uint64 = 1 << 11
	PermManageMessages  uint64 = 1 << 13
	PermReadHistory     uint64 = 1 << 16
	PermUseAppCommands  uint64 = 1 << 31
	PermManageRoles     uint64 = 1 << 28
	PermModerateMembers uint64 = 1 << 40
	// PermAll is what owners and administrators get.
	PermAll uint64 = 1<<51 - 1
	// PermDefaultEveryone is a typical @everyone permission set.
	PermDefaultEveryone = PermViewChannel | PermSendMessages | PermReadHistory | PermUseAppCommands | 1<<6 | 1<<14 | 1<<15 | 1<<18
)

// Gateway intents the emulator filters on.
const (
	IntentGuilds          = 1 << 0
	IntentGuildMembers    = 1 << 1
	IntentGuildModeration = 1 << 2
	IntentGuildMessages   = 1 << 9
	IntentGuildReactions  = 1 << 10
	IntentDirectMessages  = 1 << 12
	IntentMessageContent  = 1 << 15
)

// User is an emulated Discord account.
type User struct {
	ID         ID      `json:"id"`
	Username   string  `json:"username"`
	GlobalName *string `json:"global_name"`
	Avatar     *string `json:"avatar"`
	Bot        bool    `json:"bot"`
}

// CreatedAt is derived from the snowflake, as on Discord.
func (u *User) CreatedAt() time.Time { return idTime(u.ID) }

func idTime(id ID) time.Time {
	return time.UnixMilli(int64(uint64(id)>>22) + DiscordEpoch).UTC()
}

// Role is a guild role.
type Role struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Permissions uint64 `json:"-"`
	Position    int    `json:"position"`
	Color       int    `json:"color"`
	Hoist       bool   `json:"hoist"`
	Mentionable bool   `json:"mentionable"`
	Managed     bool   `json:"managed"`
}

// Channel is a guild text channel or a DM.
type Channel struct {
	ID          ID
	GuildID     ID // 0 for DMs
	Name        string
	Type        int // 0 text, 1 DM
	Position    int
	Topic       string
	RecipientID ID // DMs only
}

// Member is a user's membership in a guild.
type Member struct {
	UserID                     ID
	Nick                       *string
	Roles                      []ID
	JoinedAt                   time.Time
	CommunicationDisabledUntil *time.Time
}

// Ban records a guild ban.
type Ban struct {
	UserID ID     `json:"user_id"`
	Reason string `json:"reason,omitempty"`
}

// Guild is an emulated server.
type Guild struct {
	ID        ID
	Name      string
	OwnerID   ID
	Roles     []*Role // @everyone (id == guild id) first
	Channels  []ID
	Members   map[ID]*Member
	memberIDs []ID // join order
	Bans      map[ID]*Ban
	CreatedAt time.Time
}

func (g *Guild) role(id ID) *Role {
	for _, r := range g.Roles {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (g *Guild) orderedMembers() []*Member {
	out := make([]*Member, 0, len(g.memberIDs))
	for _, id := range g.memberIDs {
		if m := g.Members[id]; m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (g *Guild) removeMember(uid ID) {
	delete(g.Members, uid)
	g.memberIDs = slices.DeleteFunc(g.memberIDs, func(x ID) bool { return x == uid })
}

// permissions computes a member's guild-level permissions the way Discord
// does: owner and ADMINISTRATOR get everything, otherwise OR of roles.
func (g *Guild) permissions(uid ID) uint64 {
	if uid == g.OwnerID {
		return PermAll
	}
	m := g.Members[uid]
	if m == nil {
		return 0
	}
	var p uint64
	if ev := g.role(g.ID); ev != nil {
		p = ev.Permissions
	}
	for _, rid := range m.Roles {
		if r := g.role(rid); r != nil {
			p |= r.Permissions
		}
	}
	if p&PermAdministrator != 0 {
		return PermAll
	}
	return p
}

// Attachment is file metadata; the emulator never stores file bodies.
type Attachment struct {
	ID          ID     `json:"id"`
	Filename    string `json:"filename"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	ContentType string `json:"content_type,omitempty"`
}

// Reaction is one emoji on a message with who reacted.
type Reaction struct {
	Emoji string `json:"emoji"`
	Users []ID   `json:"users"`
}

// Message is a stored channel message (or an ephemeral interaction reply,
// which is kept only on its interaction).
type Message struct {
	ID               ID              `json:"id"`
	ChannelID        ID              `json:"channel_id"`
	GuildID          ID              `json:"guild_id,omitempty"`
	AuthorID         ID              `json:"author_id"`
	Nonce            string          `json:"nonce,omitempty"`
	Content          string          `json:"content"`
	Embeds           json.RawMessage `json:"embeds,omitempty"`
	Components       json.RawMessage `json:"components,omitempty"`
	Flags            int             `json:"flags"`
	Type             int             `json:"type"`
	Attachments      []Attachment    `json:"attachments,omitempty"`
	Reactions        []*Reaction     `json:"reactions,omitempty"`
	MessageReference json.RawMessage `json:"message_reference,omitempty"`
	Timestamp        time.Time       `json:"timestamp"`
	EditedTimestamp  *time.Time      `json:"edited_timestamp,omitempty"`
	WebhookID        ID              `json:"webhook_id,omitempty"`
	InteractionID    ID              `json:"interaction_id,omitempty"`
	Ephemeral        bool            `json:"ephemeral,omitempty"`
	Deleted          bool            `json:"deleted,omitempty"`
}

// EmbedList decodes the stored embeds into generic maps for assertions.
func (m *Message) EmbedList() []map[string]any {
	var out []map[string]any
	_ = json.Unmarshal(m.Embeds, &out)
	return out
}

// CustomIDs lists every custom_id found in the message's components, which is
// what tests usually want to click.
func (m *Message) CustomIDs() []string {
	var v any
	_ = json.Unmarshal(m.Components, &v)
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case []any:
			for _, c := range t {
				walk(c)
			}
		case map[string]any:
			if id, ok := t["custom_id"].(string); ok {
				out = append(out, id)
			}
			for _, k := range []string{"components", "accessory", "component"} {
				if c, ok := t[k]; ok {
					walk(c)
				}
			}
		}
	}
	walk(v)
	return out
}

func (m *Message) clone() *Message {
	c := *m
	c.Attachments = slices.Clone(m.Attachments)
	c.Reactions = nil
	for _, r := range m.Reactions {
		c.Reactions = append(c.Reactions, &Reaction{Emoji: r.Emoji, Users: slices.Clone(r.Users)})
	}
	return &c
}

// Command is a registered application command; Raw holds the JSON object as
// returned to the bot (ids filled in).
type Command struct {
	ID      ID             `json:"id"`
	GuildID ID             `json:"guild_id,omitempty"`
	Name    string         `json:"name"`
	Type    int            `json:"type"`
	Raw     map[string]any `json:"raw"`
}

// Interaction records one emulated interaction and everything the bot did
// with it, so tests can assert on the response.
type Interaction struct {
	ID        ID              `json:"id"`
	Token     string          `json:"token"`
	Type      int             `json:"type"` // 2 command, 3 component, 5 modal submit
	GuildID   ID              `json:"guild_id,omitempty"`
	ChannelID ID              `json:"channel_id"`
	UserID    ID              `json:"user_id"`
	Data      json.RawMessage `json:"data"`
	// MessageID is the message a component was on.
	MessageID ID `json:"message_id,omitempty"`
	// ResponseType is the callback type (0 = not answered yet).
	ResponseType int             `json:"response_type"`
	ResponseData json.RawMessage `json:"response_data,omitempty"`
	RespondedAt  *time.Time      `json:"responded_at,omitempty"`
	// Original is the current state of the @original response message.
	Original  *Message        `json:"original,omitempty"`
	Followups []*Message      `json:"followups"`
	Edits     []EditRecord    `json:"edits"`
	Modal     json.RawMessage `json:"modal,omitempty"`
	Created   time.Time       `json:"created"`
}

// EditRecord is one PATCH/DELETE of an interaction's webhook messages.
type EditRecord struct {
	Target string          `json:"target"` // "@original" or a message id
	Method string          `json:"method"`
	Data   json.RawMessage `json:"data,omitempty"`
	At     time.Time       `json:"at"`
}

func (it *Interaction) clone() *Interaction {
	c := *it
	if it.Original != nil {
		c.Original = it.Original.clone()
	}
	c.Followups = nil
	for _, f := range it.Followups {
		c.Followups = append(c.Followups, f.clone())
	}
	c.Edits = slices.Clone(it.Edits)
	return &c
}

// --- JSON rendering in Discord's wire format -------------------------------

type obj = map[string]any

func (e *Emulator) userJSON(u *User) obj {
	if u == nil {
		return nil
	}
	return obj{
		"id": u.ID, "username": u.Username, "discriminator": "0", "global_name": u.GlobalName,
		"avatar": u.Avatar, "bot": u.Bot, "public_flags": 0, "flags": 0,
	}
}

func (e *Emulator) userByID(id ID) obj {
	u := e.users[id]
	if u == nil {
		return obj{"id": id, "username": "unknown-" + id.String(), "discriminator": "0", "global_name": nil, "avatar": nil}
	}
	return e.userJSON(u)
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func idList(ids []ID) []ID {
	if ids == nil {
		return []ID{}
	}
	return ids
}

// memberJSON renders a guild member; withUser=false gives the partial form
// Discord embeds in MESSAGE_CREATE.
func (e *Emulator) memberJSON(g *Guild, m *Member, withUser bool) obj {
	o := obj{
		"roles": idList(m.Roles), "joined_at": ts(m.JoinedAt), "nick": m.Nick, "avatar": nil,
		"deaf": false, "mute": false, "pending": false, "flags": 0, "premium_since": nil,
		"communication_disabled_until": tsPtr(m.CommunicationDisabledUntil),
	}
	if withUser {
		o["user"] = e.userByID(m.UserID)
	}
	return o
}

func (e *Emulator) roleJSON(r *Role) obj {
	return obj{
		"id": r.ID, "name": r.Name, "permissions": strconv.FormatUint(r.Permissions, 10), "position": r.Position,
		"color": r.Color, "hoist": r.Hoist, "managed": r.Managed, "mentionable": r.Mentionable,
		"icon": nil, "unicode_emoji": nil, "flags": 0,
	}
}

func (e *Emulator) channelJSON(c *Channel) obj {
	if c.Type == 1 {
		return obj{"id": c.ID, "type": 1, "last_message_id": nil, "flags": 0,
			"recipients": []obj{e.userByID(c.RecipientID)}}
	}
	return obj{
		"id": c.ID, "type": c.Type, "guild_id": c.GuildID, "name": c.Name, "position": c.Position,
		"topic": nilIfEmpty(c.Topic), "nsfw": false, "last_message_id": nil, "rate_limit_per_user": 0,
		"parent_id": nil, "permission_overwrites": []any{}, "flags": 0,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *Emulator) guildJSON(g *Guild) obj {
	roles := make([]obj, 0, len(g.Roles))
	for _, r := range g.Roles {
		roles = append(roles, e.roleJSON(r))
	}
	return obj{
		"id": g.ID, "name": g.Name, "icon": nil, "splash": nil, "discovery_splash": nil, "owner_id": g.OwnerID,
		"afk_channel_id": nil, "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
		"explicit_content_filter": 0, "roles": roles, "emojis": []any{}, "stickers": []any{}, "features": []string{},
		"mfa_level": 0, "application_id": nil, "system_channel_id": nil, "system_channel_flags": 0,
		"rules_channel_id": nil, "vanity_url_code": nil, "description": nil, "banner": nil, "premium_tier": 0,
		"preferred_locale": "en-US", "public_updates_channel_id": nil, "nsfw_level": 0,
		"premium_progress_bar_enabled": false, "safety_alerts_channel_id": nil,
		"approximate_member_count": len(g.Members), "member_count": len(g.Members),
	}
}

// gatewayGuildJSON is the GUILD_CREATE payload: the guild plus members and
// channels, as Discord sends for small guilds.
func (e *Emulator) gatewayGuildJSON(g *Guild) obj {
	o := e.guildJSON(g)
	members := []obj{}
	for _, m := range g.orderedMembers() {
		members = append(members, e.memberJSON(g, m, true))
	}
	chans := []obj{}
	for _, cid := range g.Channels {
		if c := e.channels[cid]; c != nil {
			chans = append(chans, e.channelJSON(c))
		}
	}
	joined := g.CreatedAt
	if bm := g.Members[e.appID]; bm != nil {
		joined = bm.JoinedAt
	}
	o["members"] = members
	o["channels"] = chans
	o["threads"] = []any{}
	o["presences"] = []any{}
	o["voice_states"] = []any{}
	o["stage_instances"] = []any{}
	o["guild_scheduled_events"] = []any{}
	o["soundboard_sounds"] = []any{}
	o["joined_at"] = ts(joined)
	o["large"] = false
	o["unavailable"] = false
	return o
}

func (e *Emulator) messageJSON(m *Message) obj {
	o := obj{
		"id": m.ID, "channel_id": m.ChannelID, "author": e.userByID(m.AuthorID), "content": m.Content,
		"timestamp": ts(m.Timestamp), "edited_timestamp": tsPtr(m.EditedTimestamp), "tts": false,
		"mention_everyone": false, "mentions": []any{}, "mention_roles": []any{}, "pinned": false,
		"type": m.Type, "flags": m.Flags, "attachments": []Attachment{}, "embeds": json.RawMessage("[]"),
		"components": json.RawMessage("[]"),
	}
	if m.Nonce != "" {
		o["nonce"] = m.Nonce
	}
	if len(m.Attachments) > 0 {
		o["attachments"] = m.Attachments
	}
	if len(m.Embeds) > 0 {
		o["embeds"] = m.Embeds
	}
	if len(m.Components) > 0 {
		o["components"] = m.Components
	}
	if m.GuildID != 0 {
		o["guild_id"] = m.GuildID
		if g := e.guilds[m.GuildID]; g != nil && m.WebhookID == 0 {
			if mem := g.Members[m.AuthorID]; mem != nil {
				o["member"] = e.memberJSON(g, mem, false)
			}
		}
	}
	if m.WebhookID != 0 {
		o["webhook_id"] = m.WebhookID
		o["application_id"] = e.appID
	}
	if len(m.MessageReference) > 0 {
		o["message_reference"] = m.MessageReference
	}
	if m.InteractionID != 0 {
		if it := e.interactions[m.InteractionID]; it != nil {
			o["interaction_metadata"] = obj{"id": it.ID, "type": it.Type, "user": e.userByID(it.UserID),
				"authorizing_integration_owners": obj{}}
		}
	}
	if len(m.Reactions) > 0 {
		rs := []obj{}
		for _, r := range m.Reactions {
			me := slices.Contains(r.Users, e.appID)
			rs = append(rs, obj{"count": len(r.Users), "me": me, "emoji": emojiJSON(r.Emoji),
				"count_details": obj{"burst": 0, "normal": len(r.Users)}, "me_burst": false, "burst_colors": []any{}})
		}
		o["reactions"] = rs
	}
	return o
}

// emojiJSON turns "name:id" (custom) or a unicode emoji into Discord's form.
func emojiJSON(s string) obj {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return obj{"id": s[i+1:], "name": s[:i]}
		}
	}
	return obj{"id": nil, "name": s}
}

var interactionTokenSeq atomic.Uint64

func sortedCommands(cs []*Command) []*Command {
	out := slices.Clone(cs)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
