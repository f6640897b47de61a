// Package commands is the bot's slash commands and message components, served
// the same way whether an interaction arrives over the gateway or over HTTP
// (POST /interactions). table.go lists every command and component; each
// handler returns a Reply or an error, and errors.go translates errors into
// what the member reads, in one table.
package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// Deps are what the handlers need.
type Deps struct {
	Economy *economy.Service
	Squads  *squads.Service
	// Moderation serves the moderator commands (moderation.go); nil refuses them.
	Moderation *moderation.Service
	Bus        bus.Bus // role re-checks (/bytes awards) are enqueued on jobs.QueueRoles
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
	// DeferAfter is how long a handler may run before the interaction is
	// deferred (Discord allows 3 s for the first answer); default 2 s.
	DeferAfter time.Duration
}

// Responder answers one interaction. The gateway path implements it with
// disgo's interaction callback, the HTTP path with the HTTP response. One
// that is also an OriginalReader lets menus expire visibly (expiry.go).
type Responder interface {
	// Respond sends the first answer; it may be called once.
	Respond(ctx context.Context, r discord.InteractionResponse) error
	// EditOriginal edits the answer (or the component's message) after a defer.
	EditOriginal(ctx context.Context, m discord.MessageUpdate) error
	// Followup posts another message after the first answer.
	Followup(ctx context.Context, m discord.MessageCreate) error
}

// Reply is what a handler answers.
type Reply struct {
	Embeds     []discord.Embed
	Components []discord.LayoutComponent // nil on an Update removes them
	Ephemeral  bool
	// Update edits the message the component is on instead of posting one.
	Update bool
}

// Request is one interaction as the handlers see it.
type Request struct {
	Interaction discord.Interaction
	GuildID     int64
	ChannelID   snowflake.ID
	Caller      economy.Member
	CallerRoles []snowflake.ID
	Slash       discord.SlashCommandInteractionData // commands
	Args        []string                            // component custom_id arguments (after the route, before owner and expiry)
	Values      []string                            // select menu values
	Now         time.Time
}

type handlerFunc func(ctx context.Context, r *Request) (Reply, error)

// Router dispatches interactions to the handlers of table.go.
type Router struct {
	d          Deps
	log        *slog.Logger
	commands   map[string]handlerFunc // by command path, "/bytes/send"
	components map[string]handlerFunc // by custom_id route, "squads:join"
	known      sync.Map               // guild/user pairs whose account exists
	expiry     *expiry                // menus to disable when their 60 s pass (expiry.go)
}

// NewRouter builds the router over the domain services.
func NewRouter(d Deps) *Router {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.DeferAfter <= 0 {
		d.DeferAfter = 2 * time.Second
	}
	r := &Router{d: d, log: d.Logger, expiry: newExpiry(d.Now, d.Logger)}
	r.commands, r.components = r.routes()
	return r
}

type result struct {
	reply Reply
	err   error
}

// Handle answers one interaction. It never returns without telling the
// member something, unless Discord itself cannot be reached.
func (r *Router) Handle(ctx context.Context, in discord.Interaction, resp Responder) {
	if in.Type() == discord.InteractionTypePing {
		_ = resp.Respond(ctx, discord.InteractionResponse{Type: discord.InteractionResponseTypePong})
		return
	}
	req, h, isComponent, err := r.prepare(ctx, in)
	done := make(chan result, 1)
	if err != nil || h == nil {
		done <- result{err: err}
	} else {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- result{err: errors.New("panic in handler: " + slog.AnyValue(p).String())}
				}
			}()
			rep, err := h(ctx, req)
			done <- result{reply: rep, err: err}
		}()
	}
	timer := time.NewTimer(r.d.DeferAfter)
	defer timer.Stop()
	var res result
	deferred := false
	select {
	case res = <-done:
	case <-timer.C:
		deferred = true
		typ := discord.InteractionResponseTypeDeferredCreateMessage
		if isComponent {
			typ = discord.InteractionResponseTypeDeferredUpdateMessage
		}
		if err := resp.Respond(ctx, discord.InteractionResponse{Type: typ}); err != nil {
			r.log.Warn("interaction: defer failed", "interaction_id", in.ID(), "err", err)
		}
		res = <-done
	}
	if res.err != nil {
		res.reply = r.replyForError(ctx, in, res.err)
		if isComponent {
			res.reply.Update = false // a refusal never replaces the member's menu
		}
	}
	if isComponent && res.reply.Update {
		// The click replaces the menu: its expiry no longer applies. Taken
		// out before the answer is sent, so no expiry pass that starts later
		// reads the message; one already running is overwritten by the answer.
		r.expiry.cancel(menuKey(in))
	}
	res.reply.Embeds = fitEmbeds(res.reply.Embeds)
	if err := r.send(ctx, resp, res.reply, deferred, isComponent); err != nil {
		r.log.Error("interaction: answer failed", "interaction_id", in.ID(), "err", err)
		return
	}
	r.expireLater(in, resp, res.reply, deferred, isComponent)
}

func (r *Router) send(ctx context.Context, resp Responder, rep Reply, deferred, isComponent bool) error {
	var flags discord.MessageFlags
	if rep.Ephemeral {
		flags = discord.MessageFlagEphemeral
	}
	if !deferred {
		if rep.Update {
			comps := rep.Components
			if comps == nil {
				comps = []discord.LayoutComponent{}
			}
			return resp.Respond(ctx, discord.InteractionResponse{Type: discord.InteractionResponseTypeUpdateMessage,
				Data: discord.MessageUpdate{Embeds: &rep.Embeds, Components: &comps}})
		}
		return resp.Respond(ctx, discord.InteractionResponse{Type: discord.InteractionResponseTypeCreateMessage,
			Data: discord.MessageCreate{Embeds: rep.Embeds, Components: rep.Components, Flags: flags}})
	}
	if isComponent && !rep.Update {
		return resp.Followup(ctx, discord.MessageCreate{Embeds: rep.Embeds, Components: rep.Components, Flags: flags})
	}
	comps := rep.Components
	if comps == nil {
		comps = []discord.LayoutComponent{}
	}
	return resp.EditOriginal(ctx, discord.MessageUpdate{Embeds: &rep.Embeds, Components: &comps})
}

// prepare parses the interaction into a Request and finds its handler.
func (r *Router) prepare(ctx context.Context, in discord.Interaction) (*Request, handlerFunc, bool, error) {
	req := &Request{Interaction: in, ChannelID: in.Channel().ID(), Now: r.d.Now().UTC()}
	u := in.User()
	req.Caller = economy.Member{ID: int64(u.ID), Name: u.EffectiveName(), Bot: u.Bot}
	if m := in.Member(); m != nil {
		req.Caller.Name = m.EffectiveName()
		req.CallerRoles = m.RoleIDs
	}
	isComponent := in.Type() == discord.InteractionTypeComponent
	if in.GuildID() == nil {
		return req, nil, isComponent, errOnlyInGuild
	}
	req.GuildID = int64(*in.GuildID())
	switch it := in.(type) {
	case discord.ApplicationCommandInteraction:
		data, ok := it.Data.(discord.SlashCommandInteractionData)
		if !ok {
			return req, nil, false, errUnknownCommand
		}
		req.Slash = data
		h := r.commands[data.CommandPath()]
		if h == nil {
			return req, nil, false, errUnknownCommand
		}
		if err := r.ensureAccount(ctx, req); err != nil {
			return req, nil, false, err
		}
		return req, h, false, nil
	case discord.ComponentInteraction:
		id := it.Data.CustomID()
		if sel, ok := it.Data.(discord.StringSelectMenuInteractionData); ok {
			req.Values = sel.Values
		}
		route, args, owner, expires, err := parseCustomID(id)
		if err != nil {
			return req, nil, true, errUnknownComponent
		}
		h := r.components[route]
		if h == nil {
			return req, nil, true, errUnknownComponent
		}
		if owner != req.Caller.ID {
			return req, nil, true, &notYoursError{Owner: owner}
		}
		if !req.Now.Before(expires) {
			return req, expired, true, nil
		}
		req.Args = args
		return req, h, true, nil
	}
	return req, nil, isComponent, errUnknownCommand
}

// ensureAccount opens the caller's account on their first command; pairs
// already seen by this process skip the database.
func (r *Router) ensureAccount(ctx context.Context, req *Request) error {
	if req.Caller.Bot {
		return nil
	}
	key := [2]int64{req.GuildID, req.Caller.ID}
	if _, ok := r.known.Load(key); ok {
		return nil
	}
	if _, _, err := r.d.Economy.EnsureAccount(ctx, req.GuildID, req.Caller); err != nil {
		return err
	}
	r.known.Store(key, struct{}{})
	return nil
}

// Component custom ids are "<route>:<args...>:<owner>:<expires unix>", e.g.
// "squads:join:42:1234:1767225600": the state travels with the message, so
// any process (gateway or HTTP, before or after a restart) can serve a click,
// and the owner and the 60 s expiry are checked for every route alike.
const componentTTL = 60 * time.Second

func customID(route string, owner int64, expires time.Time, args ...string) string {
	parts := append([]string{route}, args...)
	parts = append(parts, strconv.FormatInt(owner, 10), strconv.FormatInt(expires.Unix(), 10))
	return strings.Join(parts, ":")
}

func parseCustomID(id string) (route string, args []string, owner int64, expires time.Time, err error) {
	parts := strings.Split(id, ":")
	if len(parts) < 4 {
		return "", nil, 0, time.Time{}, errors.New("malformed custom_id")
	}
	n := len(parts)
	owner, err1 := strconv.ParseInt(parts[n-2], 10, 64)
	exp, err2 := strconv.ParseInt(parts[n-1], 10, 64)
	if err1 != nil || err2 != nil {
		return "", nil, 0, time.Time{}, errors.New("malformed custom_id")
	}
	return parts[0] + ":" + parts[1], parts[2 : n-2], owner, time.Unix(exp, 0), nil
}

// expired answers a click on a menu older than 60 s: the message says so and
// loses its components. Usually RunExpiry disabled them already (expiry.go);
// this covers a menu whose process restarted or could not edit it.
func expired(_ context.Context, r *Request) (Reply, error) {
	return Reply{Update: true, Embeds: []discord.Embed{notice("⌛ This menu has expired",
		"Menus stay open for 60 seconds. Run the command again to start over.")}}, nil
}

// reference is a short id a member can quote and an operator can grep.
func reference() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
