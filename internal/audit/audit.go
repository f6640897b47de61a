// Package audit records who changed what in a guild, with the state before
// and after, in the same transaction as the change itself.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Entry is one audited change.
type Entry struct {
	ID      int64           `json:"id"`
	GuildID int64           `json:"guild_id,string"`
	ActorID int64           `json:"actor_id,string"` // 0: the system
	Action  string          `json:"action"`          // e.g. "bytes.config.update"
	Target  string          `json:"target"`          // what was changed, e.g. "user:123"
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
	Reason  string          `json:"reason"`
	At      time.Time       `json:"at"`
	// Via is how a change no Discord user made came about: "apikey:PREFIX"
	// for a REST API call, "cli" for a command run on the server; ""
	// otherwise. Record fills it in from the context.
	Via string `json:"via,omitempty"`
}

// APIKey is the prefix of the API key the change was made with, or "".
func (e Entry) APIKey() string {
	if p, ok := strings.CutPrefix(e.Via, viaAPIKey); ok {
		return p
	}
	return ""
}

// FromCommandLine reports whether the change was made by running smarterdev
// on the server (an operator at a shell; no Discord user).
func (e Entry) FromCommandLine() bool { return e.Via == viaCLI }

// Source names how a change no Discord user made came about, as the API and
// the CSV download write it: "api", "cli", or "" (the dashboard, the bot).
func (e Entry) Source() string {
	switch {
	case e.APIKey() != "":
		return "api"
	case e.FromCommandLine():
		return "cli"
	}
	return ""
}

const (
	viaAPIKey = "apikey:"
	viaCLI    = "cli"
)

type viaCtx struct{}

// ViaCommandLine marks ctx as a command run on the server (smarterdev
// apikey ...): its entries say so instead of "the system".
func ViaCommandLine(ctx context.Context) context.Context {
	return context.WithValue(ctx, viaCtx{}, viaCLI)
}

// ViaAPIKey marks ctx as a REST API call made with the key of this prefix:
// API keys are not Discord users, so the key is who made the change, and
// every entry recorded under ctx says which key it was.
func ViaAPIKey(ctx context.Context, prefix string) context.Context {
	return context.WithValue(ctx, viaCtx{}, viaAPIKey+prefix)
}

// Record appends an entry inside tx; before and after are any JSON-encodable values.
func Record(ctx context.Context, tx *store.Tx, e Entry, before, after any) error {
	b, err := json.Marshal(before)
	if err != nil {
		return fmt.Errorf("audit: encode before: %w", err)
	}
	a, err := json.Marshal(after)
	if err != nil {
		return fmt.Errorf("audit: encode after: %w", err)
	}
	if e.At.IsZero() {
		e.At = tx.Now()
	}
	if e.Via == "" {
		e.Via, _ = ctx.Value(viaCtx{}).(string)
	}
	if err := tx.InsertAudit(ctx, sqldb.InsertAuditParams{
		GuildID: e.GuildID, ActorID: e.ActorID, Action: e.Action, Target: e.Target,
		Before: string(b), After: string(a), Reason: e.Reason, CreatedAt: e.At, Via: e.Via,
	}); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
}

// Areas are the parts of the product whose changes are audited: the first
// segment of an action ("bytes" of "bytes.config.update").
var Areas = []string{"bytes", "squads", "automod", "moderation", "cases", "apikeys"}

// Filter narrows a listing; the zero value lists everything.
type Filter struct {
	Area  string // one of Areas, or ""
	Actor int64  // who made the change, or 0 for anyone
	// APIKey: only changes made with the API key of this prefix.
	APIKey string
}

// List returns a guild's entries newest first, older than the cursor id
// (0: from the newest), at most limit.
func List(ctx context.Context, db *store.DB, guild, before int64, limit int, f Filter) ([]Entry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	like := ""
	if f.Area != "" {
		if !slices.Contains(Areas, f.Area) {
			return nil, apperr.InvalidField("area", "must be one of %s; got %q", strings.Join(Areas, ", "), f.Area)
		}
		like = f.Area + ".%"
	}
	via := ""
	if f.APIKey != "" {
		via = viaAPIKey + f.APIKey
	}
	rows, err := db.Q().ListAudit(ctx, sqldb.ListAuditParams{GuildID: guild, Before: before, ActionLike: like, ActorID: f.Actor, Via: via, Lim: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out := make([]Entry, 0, len(rows))
	for _, r := range rows {
		out = append(out, Entry{ID: r.ID, GuildID: r.GuildID, ActorID: r.ActorID, Action: r.Action, Target: r.Target,
			Before: json.RawMessage(r.Before), After: json.RawMessage(r.After), Reason: r.Reason, At: r.CreatedAt, Via: r.Via})
	}
	return out, nil
}
