// Package emulator is an in-memory stand-in for the Discord API v10 (REST,
// gateway and OAuth2) so the bot and the dashboard can be exercised end to end
// on a machine that cannot reach Discord. It is test infrastructure: state is
// kept in memory and nothing is persisted.
package emulator

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/snowflake/v2"
)

// DiscordEpoch is the Discord snowflake epoch in Unix milliseconds.
const DiscordEpoch = 1420070400000

// ID is a Discord snowflake; it marshals as a JSON string like Discord does.
type ID = snowflake.ID

// Options configures an Emulator. Zero values get usable defaults so tests can
// just call New(Options{}).
type Options struct {
	// ApplicationID is the bot's application id (also the bot user's id).
	ApplicationID ID
	// BotName is the username of the bot user. Default "Smarter Bot".
	BotName string
	// Tokens are the accepted bot tokens. Default: Token(ApplicationID).
	Tokens []string
	// ClientID and ClientSecret are the OAuth2 credentials the dashboard must
	// present. ClientID defaults to ApplicationID, ClientSecret to "emulator-secret".
	ClientID     string
	ClientSecret string
	// RedirectURIs, when set, restricts the OAuth2 redirect_uri like the
	// Discord developer portal does. Empty accepts any redirect_uri.
	RedirectURIs []string
	// HeartbeatInterval sent in HELLO. Default 41.25s (Discord's); tests use less.
	HeartbeatInterval time.Duration
	// Shards is the shard count recommended by GET /gateway/bot. Default 1.
	Shards int
	// Logger receives debug logs; default discards.
	Logger *slog.Logger
}

// Emulator is one emulated Discord. All methods are safe for concurrent use.
type Emulator struct {
	opts   Options
	log    *slog.Logger
	appID  ID
	tokens map[string]bool

	idMu     sync.Mutex
	lastID   uint64
	lastPast uint64

	mu           sync.Mutex // guards all entity state below
	users        map[ID]*User
	guilds       map[ID]*Guild
	guildOrder   []ID
	channels     map[ID]*Channel
	messages     map[ID][]*Message // per channel, oldest first
	dms          map[ID]ID         // user id -> DM channel id
	commands     []*Command        // global and guild commands
	interactions map[ID]*Interaction
	byToken      map[string]*Interaction
	oauthCodes   map[string]*oauthCode
	oauthTokens  map[string]*oauthToken
	refreshToks  map[string]*oauthToken

	restMu  sync.Mutex // guards REST bookkeeping
	faults  []*fault
	callLog []LogEntry
	buckets map[string]*bucketState

	gw gatewayState

	handler http.Handler
	demo    *Demo // last SeedDemo result, guarded by mu

	srvMu   sync.Mutex
	server  *http.Server
	baseURL string
	closed  bool
}

// New creates an Emulator with empty state (see SeedDemo).
func New(opts Options) *Emulator {
	if opts.ApplicationID == 0 {
		opts.ApplicationID = snowflakeAt(time.Date(2021, 3, 14, 12, 0, 0, 0, time.UTC), 1)
	}
	if opts.BotName == "" {
		opts.BotName = "Smarter Bot"
	}
	if len(opts.Tokens) == 0 {
		opts.Tokens = []string{Token(opts.ApplicationID)}
	}
	if opts.ClientID == "" {
		opts.ClientID = opts.ApplicationID.String()
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "emulator-secret"
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 41250 * time.Millisecond
	}
	if opts.Shards <= 0 {
		opts.Shards = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Emulator{
		opts:         opts,
		log:          opts.Logger,
		appID:        opts.ApplicationID,
		tokens:       map[string]bool{},
		users:        map[ID]*User{},
		guilds:       map[ID]*Guild{},
		channels:     map[ID]*Channel{},
		messages:     map[ID][]*Message{},
		dms:          map[ID]ID{},
		interactions: map[ID]*Interaction{},
		byToken:      map[string]*Interaction{},
		oauthCodes:   map[string]*oauthCode{},
		oauthTokens:  map[string]*oauthToken{},
		refreshToks:  map[string]*oauthToken{},
		buckets:      map[string]*bucketState{},
	}
	for _, t := range opts.Tokens {
		e.tokens[t] = true
	}
	e.gw.init()
	// The bot user exists from the start: READY and /users/@me need it.
	e.users[e.appID] = &User{ID: e.appID, Username: opts.BotName, Bot: true}
	e.handler = e.buildHandler()
	return e
}

// Token returns a bot token disgo accepts for appID: disgo derives the
// application id from the base64 first segment of the token.
func Token(appID ID) string {
	return base64.RawStdEncoding.EncodeToString([]byte(appID.String())) + ".emulator.token"
}

// ApplicationID is the bot's application id (and bot user id).
func (e *Emulator) ApplicationID() ID { return e.appID }

// BotToken is the first accepted bot token.
func (e *Emulator) BotToken() string { return e.opts.Tokens[0] }

// ClientID and ClientSecret are the OAuth2 credentials the dashboard must use.
func (e *Emulator) ClientID() string     { return e.opts.ClientID }
func (e *Emulator) ClientSecret() string { return e.opts.ClientSecret }

// Handler serves REST (/api/v10), the gateway (/gateway), OAuth2
// (/oauth2/authorize) and the control API (/_emulator) on one mux.
func (e *Emulator) Handler() http.Handler { return e.handler }

// Start listens on addr (e.g. "127.0.0.1:0") and returns the base URL such as
// "http://127.0.0.1:41234". REST lives under baseURL+"/api/v10".
func (e *Emulator) Start(addr string) (string, error) {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.server != nil {
		return "", errors.New("emulator: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	e.baseURL = "http://" + ln.Addr().String()
	e.server = &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.server.Serve(ln) }()
	e.log.Info("discord emulator listening", "url", e.baseURL)
	return e.baseURL, nil
}

// BaseURL is the URL returned by Start ("" before Start).
func (e *Emulator) BaseURL() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.baseURL
}

// APIURL is the REST base to hand to rest.WithURL.
func (e *Emulator) APIURL() string { return e.BaseURL() + "/api/v10" }

// GatewayURL is the websocket URL returned by GET /gateway/bot.
func (e *Emulator) GatewayURL() string {
	return "ws" + strings.TrimPrefix(e.BaseURL(), "http") + "/gateway"
}

// Close stops the server and drops every gateway connection.
func (e *Emulator) Close() {
	e.srvMu.Lock()
	srv := e.server
	already := e.closed
	e.closed = true
	e.srvMu.Unlock()
	if already {
		return
	}
	e.gw.closeAll()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}
}

// NewTest starts an emulator on 127.0.0.1:0 with the demo guild seeded and a
// short heartbeat, and closes it when the test ends.
func NewTest(t testing.TB) *Emulator {
	t.Helper()
	e := New(Options{HeartbeatInterval: 500 * time.Millisecond})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("emulator start: %v", err)
	}
	e.SeedDemo()
	t.Cleanup(e.Close)
	return e
}

// snowflakeAt builds a snowflake for time t; seq keeps ids made for the same
// millisecond distinct.
func snowflakeAt(t time.Time, seq uint64) ID {
	ms := uint64(t.UnixMilli() - DiscordEpoch)
	return ID(ms<<22 | (seq & 0xFFF))
}

// newID returns a fresh, strictly increasing snowflake for "now".
func (e *Emulator) newID() ID {
	e.idMu.Lock()
	defer e.idMu.Unlock()
	ms := uint64(time.Now().UnixMilli() - DiscordEpoch)
	id := ms << 22
	if id <= e.lastID {
		id = e.lastID + 1
	}
	e.lastID = id
	return ID(id)
}
