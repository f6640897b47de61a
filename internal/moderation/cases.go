// Package moderation keeps a guild's moderation record: numbered cases for
// every action, automatic or by a moderator, the escalation of repeated
// warnings, and the automod rules and settings the bot evaluates. Actions on
// Discord and mod-log posts leave through the outbox with the case that
// caused them, so a committed case is always carried out, once.
package moderation

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Case actions beyond automod's: an unban or lifted timeout reverses one.
const (
	ActionUnban     automod.Action = "unban"
	ActionUntimeout automod.Action = "untimeout"
)

// Case states.
const (
	StateOpen     = "open"
	StateResolved = "resolved"
	StateReversed = "reversed"
)

// Case is one numbered entry of a guild's moderation record.
type Case struct {
	GuildID     int64          `json:"guild_id,string"`
	Number      int64          `json:"number"`
	TargetID    int64          `json:"target_id,string"`
	TargetName  string         `json:"target_name,omitempty"`
	ModeratorID int64          `json:"moderator_id,string"` // 0: the bot
	Action      automod.Action `json:"action"`
	RuleID      int64          `json:"rule_id,string,omitempty"`
	RuleName    string         `json:"rule_name,omitempty"`
	RuleKind    automod.Kind   `json:"rule_kind,omitempty"`
	Reason      string         `json:"reason"`
	Duration    int64          `json:"duration_seconds,omitempty"`
	ChannelID   int64          `json:"channel_id,string,omitempty"`
	MessageID   int64          `json:"message_id,string,omitempty"`
	State       string         `json:"state"`
	ResolvedBy  int64          `json:"resolved_by,string,omitempty"`
	ResolvedAt  time.Time      `json:"resolved_at,omitzero"`
	Note        string         `json:"note,omitempty"`
	At          time.Time      `json:"at"`
}

func caseOf(c sqldb.Case) Case {
	return Case{
		GuildID: c.GuildID, Number: c.Number, TargetID: c.TargetID, TargetName: c.TargetName, ModeratorID: c.ModeratorID,
		Action: automod.Action(c.Action), RuleID: c.RuleID.Int64, RuleName: c.RuleName, RuleKind: automod.Kind(c.RuleKind),
		Reason: c.Reason, Duration: c.DurationSeconds, ChannelID: c.ChannelID.Int64, MessageID: c.MessageID.Int64,
		State: c.State, ResolvedBy: c.ResolvedBy.Int64, ResolvedAt: c.ResolvedAt.Time, Note: c.Note, At: c.CreatedAt,
	}
}

// Input is a case to open.
type Input struct {
	TargetID    int64
	TargetName  string
	ModeratorID int64 // 0: the bot
	Action      automod.Action
	Rule        *automod.Rule // the automod rule that fired, if any
	Reason      string
	Duration    time.Duration // timeouts
	ChannelID   int64         // the offending message, if any
	MessageID   int64
	// DeleteMessage also removes the offending message with the action.
	DeleteMessage bool
}

func (in *Input) validate() error {
	if in.TargetID <= 0 {
		return apperr.InvalidField("target_id", "must be a Discord user id")
	}
	switch in.Action {
	case automod.ActionWarn, automod.ActionKick, automod.ActionBan, ActionUnban, ActionUntimeout:
	case automod.ActionDelete:
		if in.MessageID == 0 || in.ChannelID == 0 {
			return apperr.InvalidField("message_id", "a delete needs the message and its channel")
		}
	case automod.ActionTimeout:
		if in.Duration < time.Second || in.Duration > automod.MaxTimeout {
			return apperr.InvalidField("duration", "a timeout lasts between 1 second and 28 days")
		}
	default:
		return apperr.InvalidField("action", "must be warn, timeout, kick, ban, unban, untimeout or delete; got %q", in.Action)
	}
	if n := utf8.RuneCountInString(in.Reason); n > 500 {
		return apperr.InvalidField("reason", "at most 500 characters, got %d", n)
	}
	return nil
}

// Options configures a Service.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs moderation: cases, rules, settings.
type Service struct {
	db         *store.DB
	bus        bus.Bus
	now        func() time.Time
	log        *slog.Logger
	evaluators evaluators
}

// NewService returns a moderation Service.
func NewService(db *store.DB, b bus.Bus, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	now := o.Now
	return &Service{db: db, bus: b, now: func() time.Time { return now().UTC() }, log: o.Logger}
}

// Opened is what opening a case did: the case, and any case that escalation
// opened because of it.
type Opened struct {
	Case       Case  `json:"case"`
	Escalation *Case `json:"escalation,omitempty"`
}

// Open records a case and queues its action and mod-log post in the same
// transaction. A warning that reaches the guild's escalation threshold opens
// the escalation case too.
func (s *Service) Open(ctx context.Context, guild int64, in Input) (Opened, error) {
	if err := in.validate(); err != nil {
		return Opened{}, err
	}
	settings, err := s.Settings(ctx, guild)
	if err != nil {
		return Opened{}, err
	}
	var out Opened
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		c, err := s.openTx(ctx, tx, guild, settings, in)
		if err != nil {
			return err
		}
		out = Opened{Case: c}
		if in.Action != automod.ActionWarn || settings.EscalateAfter == 0 {
			return nil
		}
		since := s.now().Add(-time.Duration(settings.EscalateWindowHours) * time.Hour)
		n, err := tx.CountWarningsSince(ctx, sqldb.CountWarningsSinceParams{GuildID: guild, TargetID: in.TargetID, Since: since})
		if err != nil {
			return fmt.Errorf("count warnings: %w", err)
		}
		// Exactly on the Nth warning: later ones are handled by the new state.
		if int(n) != settings.EscalateAfter {
			return nil
		}
		esc, err := s.openTx(ctx, tx, guild, settings, Input{
			TargetID: in.TargetID, TargetName: in.TargetName, Action: settings.EscalateAction,
			Duration: time.Duration(settings.EscalateTimeoutSeconds) * time.Second,
			Reason:   fmt.Sprintf("escalation: %d warnings within %dh (last: case #%d)", n, settings.EscalateWindowHours, c.Number),
			Rule:     &automod.Rule{Name: "escalation"},
		})
		if err != nil {
			return err
		}
		out.Escalation = &esc
		return nil
	})
	return out, err
}

func (s *Service) openTx(ctx context.Context, tx *store.Tx, guild int64, settings automod.Settings, in Input) (Case, error) {
	now := s.now()
	number, err := tx.NextCaseNumber(ctx, guild)
	if err != nil {
		return Case{}, fmt.Errorf("number the case: %w", err)
	}
	p := sqldb.InsertCaseParams{
		GuildID: guild, Number: number, TargetID: in.TargetID, TargetName: in.TargetName, ModeratorID: in.ModeratorID,
		Action: string(in.Action), Reason: in.Reason, DurationSeconds: int64(in.Duration / time.Second),
		ChannelID: nullID(in.ChannelID), MessageID: nullID(in.MessageID), CreatedAt: now,
	}
	if in.Rule != nil {
		p.RuleID, p.RuleName, p.RuleKind = nullID(in.Rule.ID), in.Rule.Name, string(in.Rule.Kind)
	}
	row, err := tx.InsertCase(ctx, p)
	if err != nil {
		return Case{}, fmt.Errorf("record the case: %w", err)
	}
	c := caseOf(row)
	job := jobs.ModAction{
		GuildID: guild, Case: number, Action: string(in.Action), TargetID: in.TargetID,
		DurationSeconds: int64(in.Duration / time.Second), Reason: auditReason(c), ChannelID: in.ChannelID, MessageID: in.MessageID,
		DeleteMessage: in.DeleteMessage || in.Action == automod.ActionDelete,
	}
	switch in.Action {
	case automod.ActionWarn:
		job.DM = "You received a warning: " + c.Reason
	case automod.ActionTimeout:
		job.DM = fmt.Sprintf("You were timed out for %s: %s", in.Duration.Round(time.Second), c.Reason)
	case automod.ActionKick:
		job.DM = "You were removed from the server: " + c.Reason
	case automod.ActionBan:
		job.DM = "You were banned from the server: " + c.Reason
	}
	if err := tx.Enqueue(ctx, jobs.QueueModeration, job, nil); err != nil {
		return Case{}, err
	}
	if settings.ModLogChannel != 0 {
		if err := tx.Enqueue(ctx, jobs.QueueModLog, jobs.ModLogPost{GuildID: guild, ChannelID: settings.ModLogChannel, Case: number}, nil); err != nil {
			return Case{}, err
		}
	}
	return c, nil
}

// auditReason is what Discord's audit log shows for the action.
func auditReason(c Case) string {
	r := fmt.Sprintf("case #%d", c.Number)
	if c.Reason != "" {
		r += ": " + c.Reason
	}
	if len(r) > 512 {
		r = r[:509] + "..."
	}
	return r
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// Case returns one case by number.
func (s *Service) Case(ctx context.Context, guild, number int64) (Case, error) {
	c, err := s.db.Q().GetCase(ctx, sqldb.GetCaseParams{GuildID: guild, Number: number})
	if store.IsNoRows(err) {
		return Case{}, apperr.New(apperr.NotFound, "case #%d does not exist in this guild", number)
	}
	if err != nil {
		return Case{}, fmt.Errorf("read case: %w", err)
	}
	return caseOf(c), nil
}

// Filter narrows a case list; zero fields match everything.
type Filter struct {
	TargetID int64
	Action   string
	Rule     string
	State    string
	Before   int64 // case number cursor: cases numbered below it
	Limit    int
}

// Cases lists cases newest first.
func (s *Service) Cases(ctx context.Context, guild int64, f Filter) ([]Case, error) {
	if f.Limit == 0 {
		f.Limit = 25
	}
	if f.Limit < 1 || f.Limit > 100 {
		return nil, apperr.InvalidField("limit", "must be between 1 and 100, got %d", f.Limit)
	}
	switch f.State {
	case "", StateOpen, StateResolved, StateReversed:
	default:
		return nil, apperr.InvalidField("state", "must be open, resolved or reversed; got %q", f.State)
	}
	if f.Before <= 0 {
		f.Before = 1<<63 - 1
	}
	rows, err := s.db.Q().ListCases(ctx, sqldb.ListCasesParams{
		GuildID: guild, Before: f.Before, TargetID: f.TargetID, Action: f.Action, RuleName: f.Rule, State: f.State, Lim: int32(f.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	out := make([]Case, 0, len(rows))
	for _, r := range rows {
		out = append(out, caseOf(r))
	}
	return out, nil
}

// Resolve closes an open case with a note; reverse also undoes a ban or a
// timeout on Discord.
func (s *Service) Resolve(ctx context.Context, guild, number, actor int64, note string, reverse bool) (Case, error) {
	if utf8.RuneCountInString(note) > 500 {
		return Case{}, apperr.InvalidField("note", "at most 500 characters")
	}
	state := StateResolved
	if reverse {
		state = StateReversed
	}
	settings, err := s.Settings(ctx, guild)
	if err != nil {
		return Case{}, err
	}
	var out Case
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.now()
		row, err := tx.SetCaseState(ctx, sqldb.SetCaseStateParams{
			GuildID: guild, Number: number, State: state, ResolvedBy: nullID(actor),
			ResolvedAt: sql.NullTime{Time: now, Valid: true}, Note: note,
		})
		if store.IsNoRows(err) {
			if _, err := tx.GetCase(ctx, sqldb.GetCaseParams{GuildID: guild, Number: number}); store.IsNoRows(err) {
				return apperr.New(apperr.NotFound, "case #%d does not exist in this guild", number)
			}
			return apperr.New(apperr.Conflict, "case #%d is already closed", number)
		}
		if err != nil {
			return err
		}
		out = caseOf(row)
		if reverse {
			undo := map[automod.Action]automod.Action{automod.ActionBan: ActionUnban, automod.ActionTimeout: ActionUntimeout}[out.Action]
			if undo != "" {
				if err := tx.Enqueue(ctx, jobs.QueueModeration, jobs.ModAction{
					GuildID: guild, Case: number, Action: string(undo), TargetID: out.TargetID,
					Reason: fmt.Sprintf("case #%d reversed: %s", number, note),
				}, nil); err != nil {
					return err
				}
			}
		}
		if settings.ModLogChannel != 0 {
			if err := tx.Enqueue(ctx, jobs.QueueModLog, jobs.ModLogPost{GuildID: guild, ChannelID: settings.ModLogChannel, Case: number, Closed: true}, nil); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "cases." + state,
			Target: "case:" + strconv.FormatInt(number, 10), Reason: note, At: now}, map[string]string{"state": StateOpen}, map[string]string{"state": state})
	})
	return out, err
}

// Unban opens an unban case and reverses the member's latest open ban case.
func (s *Service) Unban(ctx context.Context, guild int64, target, moderator int64, reason string) (Opened, error) {
	opened, err := s.Open(ctx, guild, Input{TargetID: target, ModeratorID: moderator, Action: ActionUnban, Reason: reason})
	if err != nil {
		return Opened{}, err
	}
	ban, err := s.db.Q().LatestOpenCase(ctx, sqldb.LatestOpenCaseParams{GuildID: guild, TargetID: target, Action: string(automod.ActionBan)})
	if err == nil {
		_ = s.db.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.SetCaseState(ctx, sqldb.SetCaseStateParams{GuildID: guild, Number: ban.Number, State: StateReversed,
				ResolvedBy: nullID(moderator), ResolvedAt: sql.NullTime{Time: s.now(), Valid: true},
				Note: fmt.Sprintf("unbanned in case #%d", opened.Case.Number)})
			return err
		})
	}
	return opened, nil
}
