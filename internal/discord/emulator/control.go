package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/disgoorg/snowflake/v2"
)

// Perms is a permission bitfield that accepts a JSON string (Discord style)
// or a number, so seeding JSON can be written either way.
type Perms uint64

// UnmarshalJSON accepts "8" or 8.
func (p *Perms) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*p = 0
		return nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	*p = Perms(v)
	return err
}

// MarshalJSON renders the Discord string form.
func (p Perms) MarshalJSON() ([]byte, error) { return json.Marshal(strconv.FormatUint(uint64(p), 10)) }

// RoleSpec seeds a role. Position 0 lets the emulator stack roles in order.
type RoleSpec struct {
	Name        string `json:"name"`
	Permissions Perms  `json:"permissions"`
	Position    int    `json:"position,omitempty"`
	Color       int    `json:"color,omitempty"`
	Hoist       bool   `json:"hoist,omitempty"`
	Managed     bool   `json:"managed,omitempty"`
}

// ChannelSpec seeds a channel: a text channel unless Type says otherwise
// (2 voice, 4 category, 5 announcements, as Discord numbers them).
type ChannelSpec struct {
	Name  string `json:"name"`
	Topic string `json:"topic,omitempty"`
	Type  int    `json:"type,omitempty"`
}

// MemberSpec seeds a member: either an existing UserID or a new user built
// from Username etc. CreatedAt sets the account age (the snowflake's time).
type MemberSpec struct {
	UserID     ID        `json:"user_id,omitempty"`
	Username   string    `json:"username,omitempty"`
	GlobalName string    `json:"global_name,omitempty"`
	Avatar     string    `json:"avatar,omitempty"`
	Bot        bool      `json:"bot,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	JoinedAt   time.Time `json:"joined_at,omitzero"`
	Nick       string    `json:"nick,omitempty"`
	// Roles are role names (or ids as strings) within the guild.
	Roles []string `json:"roles,omitempty"`
	Owner bool     `json:"owner,omitempty"`
}

// GuildSpec seeds a guild. The bot joins unless WithoutBot is set.
type GuildSpec struct {
	Name       string        `json:"name"`
	CreatedAt  time.Time     `json:"created_at,omitzero"`
	Everyone   *Perms        `json:"everyone_permissions,omitempty"`
	Roles      []RoleSpec    `json:"roles,omitempty"`
	Channels   []ChannelSpec `json:"channels,omitempty"`
	Members    []MemberSpec  `json:"members,omitempty"`
	BotRoles   []string      `json:"bot_roles,omitempty"`
	WithoutBot bool          `json:"without_bot,omitempty"`
}

// GuildIDs are the ids created by SeedGuild, keyed by name.
type GuildIDs struct {
	GuildID  ID            `json:"guild_id"`
	OwnerID  ID            `json:"owner_id"`
	Roles    map[string]ID `json:"roles"`
	Channels map[string]ID `json:"channels"`
	Members  map[string]ID `json:"members"` // by username
}

// SeedGuild creates a guild with roles, channels and members. If the bot is a
// member and connected, it receives GUILD_CREATE.
func (e *Emulator) SeedGuild(spec GuildSpec) (*GuildIDs, error) {
	if spec.Name == "" {
		return nil, errors.New("guild name required")
	}
	created := spec.CreatedAt
	if created.IsZero() {
		created = time.Now().Add(-365 * 24 * time.Hour)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g := &Guild{ID: e.pastID(created), Name: spec.Name, Members: map[ID]*Member{}, Bans: map[ID]*Ban{}, CreatedAt: created.UTC()}
	ids := &GuildIDs{GuildID: g.ID, Roles: map[string]ID{}, Channels: map[string]ID{}, Members: map[string]ID{}}
	everyone := PermDefaultEveryone
	if spec.Everyone != nil {
		everyone = uint64(*spec.Everyone)
	}
	g.Roles = append(g.Roles, &Role{ID: g.ID, Name: "@everyone", Permissions: everyone})
	ids.Roles["@everyone"] = g.ID
	for i, rs := range spec.Roles {
		pos := rs.Position
		if pos == 0 {
			pos = i + 1
		}
		r := &Role{ID: e.newID(), Name: rs.Name, Permissions: uint64(rs.Permissions), Position: pos, Color: rs.Color,
			Hoist: rs.Hoist, Managed: rs.Managed}
		g.Roles = append(g.Roles, r)
		ids.Roles[rs.Name] = r.ID
	}
	for i, cs := range spec.Channels {
		c := &Channel{ID: e.newID(), GuildID: g.ID, Name: cs.Name, Topic: cs.Topic, Type: cs.Type, Position: i}
		e.channels[c.ID] = c
		g.Channels = append(g.Channels, c.ID)
		ids.Channels[cs.Name] = c.ID
	}
	e.guilds[g.ID] = g
	e.guildOrder = append(e.guildOrder, g.ID)
	for _, ms := range spec.Members {
		m, err := e.addMemberLocked(g, ms)
		if err != nil {
			return nil, err
		}
		if ms.Owner || g.OwnerID == 0 {
			g.OwnerID = m.UserID
		}
		ids.Members[e.users[m.UserID].Username] = m.UserID
	}
	if !spec.WithoutBot {
		bm, err := e.addMemberLocked(g, MemberSpec{UserID: e.appID, Roles: spec.BotRoles})
		if err != nil {
			return nil, err
		}
		ids.Members[e.users[e.appID].Username] = bm.UserID
	}
	if g.OwnerID == 0 {
		return nil, errors.New("guild needs at least one non-bot member to own it")
	}
	ids.OwnerID = g.OwnerID
	if g.Members[e.appID] != nil {
		e.dispatch(g.ID, "GUILD_CREATE", e.gatewayGuildJSON(g), IntentGuilds, nil)
	}
	return ids, nil
}

// pastID makes a unique snowflake for a moment in the past.
func (e *Emulator) pastID(t time.Time) ID {
	e.idMu.Lock()
	defer e.idMu.Unlock()
	e.lastPast++
	return snowflakeAt(t, e.lastPast)
}

func (e *Emulator) addMemberLocked(g *Guild, ms MemberSpec) (*Member, error) {
	uid := ms.UserID
	if uid == 0 {
		if ms.Username == "" {
			return nil, errors.New("member needs user_id or username")
		}
		created := ms.CreatedAt
		if created.IsZero() {
			created = time.Now().Add(-2 * 365 * 24 * time.Hour)
		}
		u := &User{ID: e.pastID(created), Username: ms.Username, Bot: ms.Bot}
		if ms.GlobalName != "" {
			gn := ms.GlobalName
			u.GlobalName = &gn
		}
		if ms.Avatar != "" {
			av := ms.Avatar
			u.Avatar = &av
		}
		e.users[u.ID] = u
		uid = u.ID
	} else if e.users[uid] == nil {
		return nil, fmt.Errorf("unknown user %s", uid)
	}
	if g.Bans[uid] != nil {
		return nil, fmt.Errorf("user %s is banned from guild %s", uid, g.ID)
	}
	if g.Members[uid] != nil {
		return nil, fmt.Errorf("user %s is already a member", uid)
	}
	joined := ms.JoinedAt
	if joined.IsZero() {
		joined = time.Now()
	}
	m := &Member{UserID: uid, JoinedAt: joined.UTC(), Roles: []ID{}}
	if ms.Nick != "" {
		n := ms.Nick
		m.Nick = &n
	}
	for _, rn := range ms.Roles {
		rid := ID(0)
		for _, r := range g.Roles {
			if r.Name == rn || r.ID.String() == rn {
				rid = r.ID
			}
		}
		if rid == 0 || rid == g.ID {
			return nil, fmt.Errorf("unknown role %q", rn)
		}
		m.Roles = append(m.Roles, rid)
	}
	g.Members[uid] = m
	g.memberIDs = append(g.memberIDs, uid)
	return m, nil
}

// AddMember makes a user join a guild (GUILD_MEMBER_ADD) and returns the user id.
func (e *Emulator) AddMember(guildID ID, ms MemberSpec) (ID, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guilds[guildID]
	if g == nil {
		return 0, fmt.Errorf("unknown guild %s", guildID)
	}
	m, err := e.addMemberLocked(g, ms)
	if err != nil {
		return 0, err
	}
	d := e.memberJSON(g, m, true)
	d["guild_id"] = g.ID
	e.dispatch(g.ID, "GUILD_MEMBER_ADD", d, IntentGuildMembers, nil)
	return m.UserID, nil
}

// RemoveMember makes a member leave (GUILD_MEMBER_REMOVE).
func (e *Emulator) RemoveMember(guildID, userID ID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guilds[guildID]
	if g == nil || g.Members[userID] == nil {
		return fmt.Errorf("no member %s in guild %s", userID, guildID)
	}
	g.removeMember(userID)
	e.emitMemberRemove(g, userID)
	return nil
}

// AttachmentSpec is metadata of a file an emulated user posts.
type AttachmentSpec struct {
	Filename    string `json:"filename"`
	Size        int    `json:"size"`
	ContentType string `json:"content_type,omitempty"`
}

// MessageSpec is a message an emulated user posts.
type MessageSpec struct {
	UserID      ID               `json:"user_id"`
	Content     string           `json:"content"`
	Attachments []AttachmentSpec `json:"attachments,omitempty"`
	ReplyTo     ID               `json:"reply_to,omitempty"`
}

// Say makes a member post content in a guild channel (MESSAGE_CREATE) and
// returns the message id.
func (e *Emulator) Say(guildID, channelID, userID ID, content string) (ID, error) {
	return e.Post(guildID, channelID, MessageSpec{UserID: userID, Content: content})
}

// Post is Say with attachments and replies.
func (e *Emulator) Post(guildID, channelID ID, spec MessageSpec) (ID, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.channels[channelID]
	if c == nil || c.GuildID != guildID {
		return 0, fmt.Errorf("no channel %s in guild %s", channelID, guildID)
	}
	if guildID != 0 && e.guilds[guildID].Members[spec.UserID] == nil {
		return 0, fmt.Errorf("user %s is not a member of guild %s", spec.UserID, guildID)
	}
	if guildID == 0 && c.RecipientID != spec.UserID {
		return 0, fmt.Errorf("user %s is not the recipient of DM %s", spec.UserID, channelID)
	}
	return e.postLocked(c, spec)
}

func (e *Emulator) postLocked(c *Channel, spec MessageSpec) (ID, error) {
	if spec.Content == "" && len(spec.Attachments) == 0 {
		return 0, errors.New("empty message")
	}
	m := &Message{ID: e.newID(), ChannelID: c.ID, GuildID: c.GuildID, AuthorID: spec.UserID, Content: spec.Content,
		Timestamp: time.Now().UTC()}
	if spec.ReplyTo != 0 {
		if e.findChannelMessage(c.ID, spec.ReplyTo) == nil {
			return 0, fmt.Errorf("unknown message %s", spec.ReplyTo)
		}
		m.Type = 19
		m.MessageReference = mustJSON(obj{"type": 0, "message_id": spec.ReplyTo, "channel_id": c.ID, "guild_id": c.GuildID})
	}
	var files []Attachment
	for _, a := range spec.Attachments {
		files = append(files, Attachment{Filename: a.Filename, Size: a.Size, ContentType: a.ContentType})
	}
	e.applyBody(m, &messageBody{}, files)
	e.storeMessage(m)
	return m.ID, nil
}

// DM makes a user send the bot a direct message (MESSAGE_CREATE, DM intent).
func (e *Emulator) DM(userID ID, content string) (ID, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.users[userID] == nil {
		return 0, fmt.Errorf("unknown user %s", userID)
	}
	return e.postLocked(e.dmChannelLocked(userID), MessageSpec{UserID: userID, Content: content})
}

// DMChannel returns the id of the DM channel between the bot and userID.
func (e *Emulator) DMChannel(userID ID) ID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dms[userID]
}

// Messages returns copies of a channel's messages, oldest first.
func (e *Emulator) Messages(channelID ID) []*Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []*Message{}
	for _, m := range e.messages[channelID] {
		out = append(out, m.clone())
	}
	return out
}

// MemberState is a member as tests see it.
type MemberState struct {
	User                       User       `json:"user"`
	Nick                       *string    `json:"nick"`
	Roles                      []ID       `json:"roles"`
	RoleNames                  []string   `json:"role_names"`
	JoinedAt                   time.Time  `json:"joined_at"`
	CommunicationDisabledUntil *time.Time `json:"communication_disabled_until"`
	Permissions                Perms      `json:"permissions"`
	AccountCreatedAt           time.Time  `json:"account_created_at"`
}

// HasRole reports whether the member has role id.
func (m MemberState) HasRole(id ID) bool { return slices.Contains(m.Roles, id) }

// TimedOut reports whether the member is currently timed out.
func (m MemberState) TimedOut() bool {
	return m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(time.Now())
}

// RoleState is a role as tests see it.
type RoleState struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Permissions Perms  `json:"permissions"`
	Position    int    `json:"position"`
	Managed     bool   `json:"managed"`
}

// ChannelState is a channel as tests see it.
type ChannelState struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
	Type int    `json:"type"`
}

// BanState is a ban as tests see it.
type BanState struct {
	User   User   `json:"user"`
	Reason string `json:"reason,omitempty"`
}

// GuildState is the full state of a guild for assertions.
type GuildState struct {
	ID       ID             `json:"id"`
	Name     string         `json:"name"`
	OwnerID  ID             `json:"owner_id"`
	Roles    []RoleState    `json:"roles"`
	Channels []ChannelState `json:"channels"`
	Members  []MemberState  `json:"members"`
	Bans     []BanState     `json:"bans"`
}

func (e *Emulator) memberStateLocked(g *Guild, m *Member) MemberState {
	ms := MemberState{User: *e.users[m.UserID], Nick: m.Nick, Roles: slices.Clone(m.Roles), RoleNames: []string{},
		JoinedAt: m.JoinedAt, CommunicationDisabledUntil: m.CommunicationDisabledUntil,
		Permissions: Perms(g.permissions(m.UserID)), AccountCreatedAt: idTime(m.UserID)}
	for _, rid := range m.Roles {
		if r := g.role(rid); r != nil {
			ms.RoleNames = append(ms.RoleNames, r.Name)
		}
	}
	return ms
}

// Member returns a member's current state.
func (e *Emulator) Member(guildID, userID ID) (MemberState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guilds[guildID]
	if g == nil || g.Members[userID] == nil {
		return MemberState{}, false
	}
	return e.memberStateLocked(g, g.Members[userID]), true
}

// Guild returns the full state of a guild.
func (e *Emulator) Guild(guildID ID) (*GuildState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.guilds[guildID]
	if g == nil {
		return nil, false
	}
	gs := &GuildState{ID: g.ID, Name: g.Name, OwnerID: g.OwnerID, Roles: []RoleState{}, Channels: []ChannelState{},
		Members: []MemberState{}, Bans: []BanState{}}
	for _, r := range g.Roles {
		gs.Roles = append(gs.Roles, RoleState{ID: r.ID, Name: r.Name, Permissions: Perms(r.Permissions), Position: r.Position, Managed: r.Managed})
	}
	for _, cid := range g.Channels {
		c := e.channels[cid]
		gs.Channels = append(gs.Channels, ChannelState{ID: c.ID, Name: c.Name, Type: c.Type})
	}
	for _, m := range g.orderedMembers() {
		gs.Members = append(gs.Members, e.memberStateLocked(g, m))
	}
	banIDs := make([]ID, 0, len(g.Bans))
	for id := range g.Bans {
		banIDs = append(banIDs, id)
	}
	slices.Sort(banIDs)
	for _, id := range banIDs {
		gs.Bans = append(gs.Bans, BanState{User: *e.users[id], Reason: g.Bans[id].Reason})
	}
	return gs, true
}

// Guilds lists guild ids in creation order.
func (e *Emulator) Guilds() []ID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.guildOrder)
}

// Users lists every emulated user (including the bot).
func (e *Emulator) Users() []User {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]User, 0, len(e.users))
	for _, u := range e.users {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b User) int { return int(a.ID>>22) - int(b.ID>>22) })
	return out
}

// --- HTTP control API ---------------------------------------------------------

func ctlError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, obj{"error": err.Error()})
}

func ctlDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields() // typos in test fixtures should fail loudly
	if err := dec.Decode(v); err != nil {
		ctlError(w, http.StatusBadRequest, fmt.Errorf("bad JSON: %w", err))
		return false
	}
	return true
}

func ctlID(w http.ResponseWriter, r *http.Request, name string) (ID, bool) {
	id, err := snowflake.Parse(r.PathValue(name))
	if err != nil {
		ctlError(w, http.StatusBadRequest, fmt.Errorf("bad %s: %w", name, err))
		return 0, false
	}
	return id, true
}

func (e *Emulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_emulator/guilds", func(w http.ResponseWriter, r *http.Request) {
		var spec GuildSpec
		if !ctlDecode(w, r, &spec) {
			return
		}
		ids, err := e.SeedGuild(spec)
		if err != nil {
			ctlError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, ids)
	})
	mux.HandleFunc("POST /_emulator/seed/demo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, e.SeedDemo())
	})
	mux.HandleFunc("GET /_emulator/guilds", func(w http.ResponseWriter, r *http.Request) {
		out := []obj{}
		for _, id := range e.Guilds() {
			if g, ok := e.Guild(id); ok {
				out = append(out, obj{"id": g.ID, "name": g.Name, "member_count": len(g.Members)})
			}
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("GET /_emulator/guilds/{g}", func(w http.ResponseWriter, r *http.Request) {
		gid, ok := ctlID(w, r, "g")
		if !ok {
			return
		}
		g, found := e.Guild(gid)
		if !found {
			ctlError(w, 404, errors.New("unknown guild"))
			return
		}
		writeJSON(w, 200, g)
	})
	mux.HandleFunc("POST /_emulator/guilds/{g}/members", func(w http.ResponseWriter, r *http.Request) {
		gid, ok := ctlID(w, r, "g")
		var spec MemberSpec
		if !ok || !ctlDecode(w, r, &spec) {
			return
		}
		uid, err := e.AddMember(gid, spec)
		if err != nil {
			ctlError(w, 400, err)
			return
		}
		writeJSON(w, 201, obj{"user_id": uid})
	})
	mux.HandleFunc("DELETE /_emulator/guilds/{g}/members/{u}", func(w http.ResponseWriter, r *http.Request) {
		gid, ok1 := ctlID(w, r, "g")
		if !ok1 {
			return
		}
		uid, ok2 := ctlID(w, r, "u")
		if !ok2 {
			return
		}
		if err := e.RemoveMember(gid, uid); err != nil {
			ctlError(w, 404, err)
			return
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /_emulator/guilds/{g}/members/{u}", func(w http.ResponseWriter, r *http.Request) {
		gid, ok1 := ctlID(w, r, "g")
		if !ok1 {
			return
		}
		uid, ok2 := ctlID(w, r, "u")
		if !ok2 {
			return
		}
		m, found := e.Member(gid, uid)
		if !found {
			ctlError(w, 404, errors.New("unknown member"))
			return
		}
		writeJSON(w, 200, m)
	})
	mux.HandleFunc("POST /_emulator/guilds/{g}/channels/{c}/messages", func(w http.ResponseWriter, r *http.Request) {
		gid, ok1 := ctlID(w, r, "g")
		if !ok1 {
			return
		}
		cid, ok2 := ctlID(w, r, "c")
		var spec MessageSpec
		if !ok2 || !ctlDecode(w, r, &spec) {
			return
		}
		id, err := e.Post(gid, cid, spec)
		if err != nil {
			ctlError(w, 400, err)
			return
		}
		writeJSON(w, 201, obj{"message_id": id})
	})
	mux.HandleFunc("POST /_emulator/users/{u}/dm", func(w http.ResponseWriter, r *http.Request) {
		uid, ok := ctlID(w, r, "u")
		var body struct {
			Content string `json:"content"`
		}
		if !ok || !ctlDecode(w, r, &body) {
			return
		}
		id, err := e.DM(uid, body.Content)
		if err != nil {
			ctlError(w, 400, err)
			return
		}
		writeJSON(w, 201, obj{"message_id": id, "channel_id": e.DMChannel(uid)})
	})
	mux.HandleFunc("GET /_emulator/users/{u}/dm", func(w http.ResponseWriter, r *http.Request) {
		uid, ok := ctlID(w, r, "u")
		if !ok {
			return
		}
		writeJSON(w, 200, obj{"channel_id": e.DMChannel(uid), "messages": e.Messages(e.DMChannel(uid))})
	})
	mux.HandleFunc("GET /_emulator/users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, e.Users())
	})
	mux.HandleFunc("GET /_emulator/channels/{c}/messages", func(w http.ResponseWriter, r *http.Request) {
		cid, ok := ctlID(w, r, "c")
		if !ok {
			return
		}
		writeJSON(w, 200, e.Messages(cid))
	})
	mux.HandleFunc("POST /_emulator/interactions", func(w http.ResponseWriter, r *http.Request) {
		var spec InteractionSpec
		if !ctlDecode(w, r, &spec) {
			return
		}
		it, err := e.Interact(spec)
		if err != nil {
			ctlError(w, 400, err)
			return
		}
		writeJSON(w, 201, it)
	})
	mux.HandleFunc("GET /_emulator/interactions/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := ctlID(w, r, "id")
		if !ok {
			return
		}
		it, found := e.Interaction(id)
		if !found {
			ctlError(w, 404, errors.New("unknown interaction"))
			return
		}
		writeJSON(w, 200, it)
	})
	mux.HandleFunc("GET /_emulator/commands", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, c := range e.Commands() {
			out = append(out, c.Raw)
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("GET /_emulator/log", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, e.Log())
	})
	mux.HandleFunc("DELETE /_emulator/log", func(w http.ResponseWriter, r *http.Request) {
		e.ClearLog()
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var spec FaultSpec
		if !ctlDecode(w, r, &spec) {
			return
		}
		if err := e.Fault(spec); err != nil {
			ctlError(w, 400, err)
			return
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFaults()
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /_emulator/gateway/{action}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Shard *int `json:"shard"`
		}
		if r.ContentLength > 0 && !ctlDecode(w, r, &body) {
			return
		}
		shard := -1
		if body.Shard != nil {
			shard = *body.Shard
		}
		n, err := e.Gateway(GatewayAction(r.PathValue("action")), shard)
		if err != nil {
			ctlError(w, 400, err)
			return
		}
		writeJSON(w, 200, obj{"sessions": n})
	})
	mux.HandleFunc("GET /_emulator/gateway/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, e.Sessions())
	})
	mux.HandleFunc("/_emulator/", func(w http.ResponseWriter, r *http.Request) {
		ctlError(w, 404, fmt.Errorf("no control route %s %s", r.Method, r.URL.Path))
	})
	return mux
}
