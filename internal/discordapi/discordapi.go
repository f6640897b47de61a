// Package discordapi is the dashboard's small Discord REST client: the OAuth2
// authorization code flow with PKCE, the signed-in member's identity and
// guilds, and bot-token reads of guilds, members and roles for names and
// avatars. Names and avatars are cached in memory for five minutes and never
// stored.
package discordapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Permission bits the dashboard checks.
const (
	PermAdministrator = 1 << 3
	PermManageGuild   = 1 << 5
)

// Options configures a Client.
type Options struct {
	APIURL       string // e.g. https://discord.com/api/v10, or the emulator's
	BotToken     string // empty: no bot reads (names fall back to ids)
	ClientID     string
	ClientSecret string
	HTTP         *http.Client // default: 10 s timeout
}

// Client talks to Discord's REST API.
type Client struct {
	o    Options
	base string // APIURL without /api[/vN]: where /oauth2/authorize lives
}

// New returns a Client.
func New(o Options) *Client {
	o.APIURL = strings.TrimRight(o.APIURL, "/")
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	base := o.APIURL
	if i := strings.LastIndex(base, "/api"); i >= 0 {
		base = base[:i]
	}
	return &Client{o: o, base: base}
}

// OAuthConfigured reports whether OAuth2 sign-in can work.
func (c *Client) OAuthConfigured() bool { return c.o.ClientID != "" && c.o.ClientSecret != "" }

// HasBot reports whether bot-token reads are possible.
func (c *Client) HasBot() bool { return c.o.BotToken != "" }

// Scopes the dashboard asks for.
const Scopes = "identify guilds"

// NewVerifier returns a PKCE code verifier (43 characters, RFC 7636).
func NewVerifier() string { return randomString(32) }

// Challenge is the S256 code challenge of a verifier.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewState returns an unguessable OAuth2 state value.
func NewState() string { return randomString(24) }

// AuthorizeURL is where the browser goes to consent.
func (c *Client) AuthorizeURL(redirectURI, state, verifier string) string {
	v := url.Values{
		"client_id":             {c.o.ClientID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {Scopes},
		"state":                 {state},
		"code_challenge":        {Challenge(verifier)},
		"code_challenge_method": {"S256"},
		"prompt":                {"none"},
	}
	return c.base + "/oauth2/authorize?" + v.Encode()
}

// Token is an OAuth2 access token.
type Token struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// Error is a non-2xx answer from Discord.
type Error struct {
	Status int
	Body   string
}

func (e *Error) Error() string { return fmt.Sprintf("discord: HTTP %d: %s", e.Status, e.Body) }

// IsNotFound reports whether err is a 404 from Discord.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Exchange trades an authorization code (and the PKCE verifier) for a token.
func (c *Client) Exchange(ctx context.Context, code, redirectURI, verifier string) (Token, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.o.APIURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.o.ClientID), url.QueryEscape(c.o.ClientSecret))
	var t Token
	if err := c.do(req, &t); err != nil {
		return Token{}, err
	}
	if t.AccessToken == "" {
		return Token{}, errors.New("discord: token response without access_token")
	}
	return t, nil
}

// User is a Discord user.
type User struct {
	ID         string  `json:"id"`
	Username   string  `json:"username"`
	GlobalName *string `json:"global_name"`
	Avatar     *string `json:"avatar"`
	Bot        bool    `json:"bot"`
}

// Name is what people see: the display name, else the username.
func (u User) Name() string {
	if u.GlobalName != nil && *u.GlobalName != "" {
		return *u.GlobalName
	}
	return u.Username
}

// AvatarURL is the user's avatar on Discord's CDN, or "" without one.
func (u User) AvatarURL() string {
	if u.Avatar == nil || *u.Avatar == "" {
		return ""
	}
	return "https://cdn.discordapp.com/avatars/" + u.ID + "/" + *u.Avatar + ".png?size=64"
}

// IDInt is the user id as a number.
func (u User) IDInt() int64 { n, _ := strconv.ParseInt(u.ID, 10, 64); return n }

// UserGuild is one entry of /users/@me/guilds.
type UserGuild struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	Icon                   *string
	Owner                  bool   `json:"owner"`
	Permissions            string `json:"permissions"`
	ApproximateMemberCount int    `json:"approximate_member_count"`
}

// IDInt is the guild id as a number.
func (g UserGuild) IDInt() int64 { n, _ := strconv.ParseInt(g.ID, 10, 64); return n }

// CanManage reports whether the member may manage the guild: its owner, or
// holding Manage Server or Administrator there.
func (g UserGuild) CanManage() bool {
	p, _ := strconv.ParseUint(g.Permissions, 10, 64)
	return g.Owner || p&PermAdministrator != 0 || p&PermManageGuild != 0
}

// Me returns the user an OAuth2 token belongs to.
func (c *Client) Me(ctx context.Context, accessToken string) (User, error) {
	var u User
	err := c.get(ctx, "Bearer "+accessToken, "/users/@me", &u)
	return u, err
}

// MyGuilds returns the guilds of the token's user, with their permissions.
func (c *Client) MyGuilds(ctx context.Context, accessToken string) ([]UserGuild, error) {
	var gs []UserGuild
	err := c.get(ctx, "Bearer "+accessToken, "/users/@me/guilds?with_counts=true", &gs)
	return gs, err
}

// Guild is what the dashboard shows of a guild.
type Guild struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	ApproximateMemberCount int    `json:"approximate_member_count"`
}

// Member is a guild member with their user.
type Member struct {
	User  User     `json:"user"`
	Nick  *string  `json:"nick"`
	Roles []string `json:"roles"`
}

// Role is a guild role.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Position    int    `json:"position"`
	Managed     bool   `json:"managed"`
	Permissions string `json:"permissions"` // a decimal bit set, as Discord sends it
}

// staffPermissions are the bits that let a member moderate or run a server:
// Kick, Ban and Timeout Members, Administrator, and Manage Channels, Server,
// Messages, Roles and Webhooks.
const staffPermissions = 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<13 | 1<<28 | 1<<29 | 1<<40

// Grantable reports whether the bot may hand the role to any member who asks
// (a squad role): not a bot's or integration's own role, and no staff
// permission, so that joining a squad can never make someone a moderator.
func (r Role) Grantable() bool {
	p, err := strconv.ParseUint(r.Permissions, 10, 64)
	return !r.Managed && err == nil && p&staffPermissions == 0
}

func (c *Client) bot() string { return "Bot " + c.o.BotToken }

// GetGuild reads a guild with the bot token.
func (c *Client) GetGuild(ctx context.Context, guild int64) (Guild, error) {
	var g Guild
	err := c.get(ctx, c.bot(), "/guilds/"+strconv.FormatInt(guild, 10)+"?with_counts=true", &g)
	return g, err
}

// GetMember reads a guild member with the bot token.
func (c *Client) GetMember(ctx context.Context, guild, user int64) (Member, error) {
	var m Member
	err := c.get(ctx, c.bot(), "/guilds/"+strconv.FormatInt(guild, 10)+"/members/"+strconv.FormatInt(user, 10), &m)
	return m, err
}

// GetUser reads any user with the bot token.
func (c *Client) GetUser(ctx context.Context, user int64) (User, error) {
	var u User
	err := c.get(ctx, c.bot(), "/users/"+strconv.FormatInt(user, 10), &u)
	return u, err
}

// GetRoles reads a guild's roles with the bot token.
func (c *Client) GetRoles(ctx context.Context, guild int64) ([]Role, error) {
	var rs []Role
	err := c.get(ctx, c.bot(), "/guilds/"+strconv.FormatInt(guild, 10)+"/roles", &rs)
	return rs, err
}

// Channel is a guild channel.
type Channel struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     int    `json:"type"`
	Position int    `json:"position"`
}

// Channel types that carry messages (Discord's GUILD_TEXT, GUILD_VOICE with
// its text chat, GUILD_ANNOUNCEMENT, GUILD_STAGE_VOICE, GUILD_FORUM, GUILD_MEDIA);
// categories and threads are left out.
var messageChannelTypes = map[int]bool{0: true, 2: true, 5: true, 13: true, 15: true, 16: true}

// Postable reports whether the bot can post a plain message there (a text
// or announcement channel): what a mod-log needs.
func (c Channel) Postable() bool { return c.Type == 0 || c.Type == 5 }

// GetChannels reads a guild's channels with the bot token.
func (c *Client) GetChannels(ctx context.Context, guild int64) ([]Channel, error) {
	var cs []Channel
	err := c.get(ctx, c.bot(), "/guilds/"+strconv.FormatInt(guild, 10)+"/channels", &cs)
	return cs, err
}

func (c *Client) get(ctx context.Context, auth, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.o.APIURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/smarterdev/smarterdev, 1) smarterdev-dashboard")
	req.Header.Set("Accept", "application/json")
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("discord: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("discord: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		if len(body) > 300 {
			body = body[:300]
		}
		return &Error{Status: resp.StatusCode, Body: string(body)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("discord: decode answer: %w", err)
	}
	return nil
}
