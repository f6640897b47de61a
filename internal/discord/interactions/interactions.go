// Package interactions serves Discord's HTTP interactions (POST
// /interactions): it verifies the Ed25519 signature over the timestamp and
// the body, answers PING, and hands commands and components to the same
// router as the gateway, so commands scale with web replicas.
package interactions

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/httpserver"
	"github.com/disgoorg/disgo/rest"

	"github.com/smarterdev/smarterdev/internal/discord/commands"
)

// Options configure the handler.
type Options struct {
	PublicKey string // the application's public key, 64 hex characters
	Router    *commands.Router
	// Rest edits answers and posts follow-ups after the HTTP response (may be
	// nil: then only answers within the first response work, and menus are
	// only refused when clicked after 60 s instead of showing disabled).
	Rest   rest.Interactions
	Logger *slog.Logger
	// Deadline for the first answer; Discord allows 3 s. Default 2.8 s.
	Deadline time.Duration
}

const maxBody = 1 << 20

// Handler returns the POST /interactions handler.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Deadline <= 0 {
		o.Deadline = 2800 * time.Millisecond
	}
	key, keyErr := hex.DecodeString(o.PublicKey)
	if keyErr == nil && len(key) != 32 {
		keyErr = errors.New("not 32 bytes")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keyErr != nil || o.PublicKey == "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "HTTP interactions are not configured: set SMARTERDEV_DISCORD_PUBLIC_KEY"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if !httpserver.VerifyRequest(httpserver.DefaultVerifier{}, r, key) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "invalid request signature"})
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "unreadable body"})
			return
		}
		in, err := discord.UnmarshalInteraction(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "not an interaction"})
			return
		}
		if in.Type() == discord.InteractionTypePing {
			writeJSON(w, http.StatusOK, discord.InteractionResponse{Type: discord.InteractionResponseTypePong})
			return
		}
		resp := &httpResponder{first: make(chan discord.InteractionResponse, 1), written: make(chan struct{})}
		var responder commands.Responder = resp
		if o.Rest != nil {
			resp.rest = commands.NewRESTResponder(o.Rest, in)
			// It can read the answer back later: menus expire visibly (the
			// router's RunExpiry in this process disables them).
			responder = readingResponder{resp}
		}
		// The work may outlive the request (a deferred answer is edited later).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
		go func() {
			defer cancel()
			o.Router.Handle(ctx, in, responder)
		}()
		timer := time.NewTimer(o.Deadline)
		defer timer.Stop()
		select {
		case first := <-resp.first:
			writeJSON(w, http.StatusOK, first)
			close(resp.written)
		case <-timer.C:
			// The router defers before this; reaching it means it is stuck.
			o.Logger.Error("interaction not answered in time", "interaction_id", in.ID())
			close(resp.written)
			writeJSON(w, http.StatusOK, discord.InteractionResponse{Type: discord.InteractionResponseTypeCreateMessage,
				Data: discord.MessageCreate{Content: "This is taking longer than it should; please try again.", Flags: discord.MessageFlagEphemeral}})
		}
	})
}

// httpResponder sends the first answer as the HTTP response and the rest
// through Discord's REST API.
type httpResponder struct {
	first   chan discord.InteractionResponse
	written chan struct{}
	rest    *commands.RESTResponder
}

var errNoRest = errors.New("no Discord REST client: set SMARTERDEV_DISCORD_TOKEN to edit answers after the first")

func (h *httpResponder) Respond(ctx context.Context, r discord.InteractionResponse) error {
	select {
	case h.first <- r:
	default:
		return discord.ErrInteractionAlreadyReplied
	}
	select {
	case <-h.written: // Discord knows the answer before any edit follows
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *httpResponder) EditOriginal(ctx context.Context, m discord.MessageUpdate) error {
	if h.rest == nil {
		return errNoRest
	}
	return h.rest.EditOriginal(ctx, m)
}

func (h *httpResponder) Followup(ctx context.Context, m discord.MessageCreate) error {
	if h.rest == nil {
		return errNoRest
	}
	return h.rest.Followup(ctx, m)
}

// readingResponder is an httpResponder with a REST client, which can read
// its answer back (commands.OriginalReader).
type readingResponder struct{ *httpResponder }

func (h readingResponder) Original(ctx context.Context) (*discord.Message, error) {
	return h.rest.Original(ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
