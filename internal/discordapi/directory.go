package discordapi

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Directory answers "what is this id called" from Discord through the bot
// token, caching answers in memory for TTL (five minutes) and failures for a
// shorter time; when Discord is unreachable a name falls back to the id.
// Nothing is written to the database.
type Directory struct {
	c   *Client
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]dirEntry
}

type dirEntry struct {
	val     any
	expires time.Time
}

// Profile is how a member is shown.
type Profile struct {
	ID        int64
	Name      string // falls back to the id
	Username  string // the unique @name, "" when unknown
	AvatarURL string // "" when none or unknown
	Known     bool   // false when Discord did not answer
}

// GuildInfo is how a guild is shown.
type GuildInfo struct {
	ID      int64
	Name    string // falls back to the id
	Members int    // 0 when unknown
	Known   bool
}

// DefaultTTL is how long names and avatars are cached.
const DefaultTTL = 5 * time.Minute

// failTTL is how long a failed lookup is remembered, so a Discord outage does
// not turn every page view into dozens of timeouts.
const failTTL = 30 * time.Second

// NewDirectory returns a Directory over c.
func NewDirectory(c *Client, ttl time.Duration) *Directory {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Directory{c: c, ttl: ttl, now: time.Now, entries: map[string]dirEntry{}}
}

func (d *Directory) cached(key string) (any, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[key]
	if !ok || d.now().After(e.expires) {
		return nil, false
	}
	return e.val, true
}

func (d *Directory) put(key string, v any, ok bool) {
	ttl := d.ttl
	if !ok {
		ttl = failTTL
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries) > 50_000 { // bound memory: forgetting only costs a lookup
		clear(d.entries)
	}
	d.entries[key] = dirEntry{val: v, expires: d.now().Add(ttl)}
}

// Member returns a guild member's name and avatar (the nickname when set).
// A member who left the guild is looked up as a user.
func (d *Directory) Member(ctx context.Context, guild, user int64) Profile {
	key := "m:" + strconv.FormatInt(guild, 10) + ":" + strconv.FormatInt(user, 10)
	if v, ok := d.cached(key); ok {
		return v.(Profile)
	}
	p := Profile{ID: user, Name: strconv.FormatInt(user, 10)}
	if d.c.HasBot() && user > 0 {
		m, err := d.c.GetMember(ctx, guild, user)
		if err == nil {
			p.Name, p.Username, p.AvatarURL, p.Known = m.User.Name(), m.User.Username, m.User.AvatarURL(), true
			if m.Nick != nil && *m.Nick != "" {
				p.Name = *m.Nick
			}
		} else if IsNotFound(err) {
			if u := d.User(ctx, user); u.Known {
				p = u
			}
		}
	}
	d.put(key, p, p.Known)
	return p
}

// User returns a Discord user's name and avatar, for someone who acted
// outside any guild (an operator managing keys for every guild), or a
// member who left.
func (d *Directory) User(ctx context.Context, user int64) Profile {
	key := "u:" + strconv.FormatInt(user, 10)
	if v, ok := d.cached(key); ok {
		return v.(Profile)
	}
	p := Profile{ID: user, Name: strconv.FormatInt(user, 10)}
	if d.c.HasBot() && user > 0 {
		if u, err := d.c.GetUser(ctx, user); err == nil {
			p.Name, p.Username, p.AvatarURL, p.Known = u.Name(), u.Username, u.AvatarURL(), true
		}
	}
	d.put(key, p, p.Known)
	return p
}

// Members looks up several members at once, a few at a time.
func (d *Directory) Members(ctx context.Context, guild int64, users []int64) map[int64]Profile {
	return d.each(users, func(u int64) Profile { return d.Member(ctx, guild, u) })
}

// Users is User for several people at once.
func (d *Directory) Users(ctx context.Context, users []int64) map[int64]Profile {
	return d.each(users, func(u int64) Profile { return d.User(ctx, u) })
}

// each looks up every distinct user, a few at a time.
func (d *Directory) each(users []int64, lookup func(int64) Profile) map[int64]Profile {
	out := make(map[int64]Profile, len(users))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	seen := make(map[int64]bool, len(users))
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := lookup(u)
			mu.Lock()
			out[u] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Guild returns a guild's name and member count.
func (d *Directory) Guild(ctx context.Context, guild int64) GuildInfo {
	key := "g:" + strconv.FormatInt(guild, 10)
	if v, ok := d.cached(key); ok {
		return v.(GuildInfo)
	}
	g := GuildInfo{ID: guild, Name: strconv.FormatInt(guild, 10)}
	if d.c.HasBot() {
		if r, err := d.c.GetGuild(ctx, guild); err == nil {
			g.Name, g.Members, g.Known = r.Name, r.ApproximateMemberCount, true
		}
	}
	d.put(key, g, g.Known)
	return g
}

// Roles returns a guild's roles (highest first, without @everyone), or nil
// when Discord does not answer.
func (d *Directory) Roles(ctx context.Context, guild int64) []Role {
	gid := strconv.FormatInt(guild, 10)
	return cachedList(d, "r:"+gid, func() ([]Role, error) { return d.c.GetRoles(ctx, guild) },
		func(r Role) bool { return r.ID != gid }, // @everyone has the guild's id
		func(a, b Role) int { return cmp.Compare(b.Position, a.Position) })
}

// Channels returns a guild's channels that carry messages, in the order
// Discord lists them (by position), or nil when Discord does not answer.
func (d *Directory) Channels(ctx context.Context, guild int64) []Channel {
	return cachedList(d, "c:"+strconv.FormatInt(guild, 10), func() ([]Channel, error) { return d.c.GetChannels(ctx, guild) },
		func(c Channel) bool { return messageChannelTypes[c.Type] },
		func(a, b Channel) int { return cmp.Compare(a.Position, b.Position) })
}

// cachedList reads a list from Discord through the cache, keeps what keep
// accepts, sorted by order: nil when Discord does not answer (or there is no
// bot token), an empty list when it answers with nothing.
func cachedList[T any](d *Directory, key string, fetch func() ([]T, error), keep func(T) bool, order func(a, b T) int) []T {
	if v, ok := d.cached(key); ok {
		return v.([]T)
	}
	var out []T
	if d.c.HasBot() {
		if all, err := fetch(); err == nil {
			out = make([]T, 0, len(all))
			for _, x := range all {
				if keep(x) {
					out = append(out, x)
				}
			}
			slices.SortStableFunc(out, order)
		}
	}
	d.put(key, out, out != nil)
	return out
}

// SquadRoleProblem says why a role may not be a squad's, which the bot gives
// to anyone who joins: "" when it may, when there is none, or when Discord
// does not answer and it cannot be checked (the bot's grant then fails or
// succeeds on its own).
func (d *Directory) SquadRoleProblem(ctx context.Context, guild, role int64) string {
	return d.grantProblem(ctx, guild, role, "everyone who joins the squad would get it")
}

// RewardRoleProblem says why a role may not be a reward for holding bytes,
// which the bot gives to every member who reaches its threshold, as
// SquadRoleProblem does for squads: bytes must never buy moderation.
func (d *Directory) RewardRoleProblem(ctx context.Context, guild, role int64) string {
	return d.grantProblem(ctx, guild, role, "every member who reaches the threshold would get it")
}

func (d *Directory) grantProblem(ctx context.Context, guild, role int64, who string) string {
	if role <= 0 { // no role: nothing is given
		return ""
	}
	roles := d.Roles(ctx, guild)
	if roles == nil {
		return ""
	}
	id := strconv.FormatInt(role, 10)
	i := slices.IndexFunc(roles, func(r Role) bool { return r.ID == id })
	switch {
	case i < 0:
		return "This server has no such role."
	case roles[i].Managed:
		return "“" + roles[i].Name + "” belongs to a bot or an integration; Discord does not let it be given to members."
	case !roles[i].Grantable():
		return "“" + roles[i].Name + "” can moderate or run the server, and " + who + ". Choose a role without staff permissions."
	}
	return ""
}

// ModLogProblem says why the bot cannot post cases in a channel: "" when
// it can, or when Discord does not answer and it cannot be checked.
func (d *Directory) ModLogProblem(ctx context.Context, guild, channel int64) string {
	chans := d.Channels(ctx, guild)
	if chans == nil {
		return ""
	}
	id := strconv.FormatInt(channel, 10)
	i := slices.IndexFunc(chans, func(c Channel) bool { return c.ID == id })
	switch {
	case i < 0:
		return "This server has no such channel."
	case !chans[i].Postable():
		return "#" + chans[i].Name + " is not a text channel; choose a text or announcement channel for the mod-log."
	}
	return ""
}

// RoleName returns a role's name, or its id when unknown.
func (d *Directory) RoleName(ctx context.Context, guild, role int64) string {
	id := strconv.FormatInt(role, 10)
	for _, r := range d.Roles(ctx, guild) {
		if r.ID == id {
			return r.Name
		}
	}
	return id
}
