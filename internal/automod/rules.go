// Package automod decides, as pure functions over bounded in-memory state,
// whether a message or a member join breaks one of a guild's rules. It knows
// nothing of Discord or the database: the bot feeds it events and carries out
// the verdicts through the moderation service.
package automod

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smarterdev/smarterdev/internal/apperr"
)

// Kind is what a rule looks at.
type Kind string

const (
	KindUsername      Kind = "username"       // member joins: name pattern, account age, avatar
	KindMessageRate   Kind = "message_rate"   // too many messages in a window
	KindDuplicate     Kind = "duplicate"      // the same normalized message N times in a window
	KindChannelSpread Kind = "channel_spread" // messages in too many distinct channels in a window
	KindAttachment    Kind = "attachment"     // file extensions on an allow- or block-list
)

// Action is what a triggered rule does.
type Action string

const (
	ActionDelete  Action = "delete"
	ActionWarn    Action = "warn"
	ActionTimeout Action = "timeout"
	ActionKick    Action = "kick"
	ActionBan     Action = "ban"
)

// Limits that keep evaluation fast and state small.
const (
	MaxPatternLength = 512
	maxProgramSize   = 4000 // compiled RE2 instructions
	MaxCount         = 50
	MaxWindow        = time.Hour
	MaxExtensions    = 100
	MaxTimeout       = 28 * 24 * time.Hour // Discord's longest timeout
	MaxRules         = 50
)

// Rule is one automod rule of a guild.
type Rule struct {
	ID      int64  `json:"id,string"`
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Enabled bool   `json:"enabled"`

	// Username rules.
	Pattern           string `json:"pattern,omitempty"`              // RE2, matched against username and display name
	MaxAccountAgeDays int    `json:"max_account_age_days,omitempty"` // only accounts younger than this; 0: any age
	RequireNoAvatar   bool   `json:"require_no_avatar,omitempty"`    // only accounts without a custom avatar

	// Message rules: Count events within WindowSeconds.
	Count         int `json:"count,omitempty"`
	WindowSeconds int `json:"window_seconds,omitempty"`

	// Attachment rules.
	Extensions []string `json:"extensions,omitempty"` // without dots, lower case
	AllowList  bool     `json:"allow_list,omitempty"` // true: only these; false: none of these

	Action         Action  `json:"action"`
	TimeoutSeconds int     `json:"timeout_seconds,omitempty"`
	Reason         string  `json:"reason,omitempty"`
	DeleteMessage  bool    `json:"delete_message,omitempty"` // also delete the offending message (message rules)
	ExemptRoles    []int64 `json:"exempt_roles,omitempty"`
	ExemptChannels []int64 `json:"exempt_channels,omitempty"`
}

// Window is the rule's window as a duration.
func (r Rule) Window() time.Duration { return time.Duration(r.WindowSeconds) * time.Second }

// Timeout is the rule's timeout as a duration.
func (r Rule) Timeout() time.Duration { return time.Duration(r.TimeoutSeconds) * time.Second }

// Validate checks a rule and normalises its lists; errors name the field.
func (r *Rule) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return apperr.InvalidField("name", "a rule needs a name")
	}
	if n := utf8.RuneCountInString(r.Name); n > 100 {
		return apperr.InvalidField("name", "at most 100 characters, got %d", n)
	}
	if utf8.RuneCountInString(r.Reason) > 200 {
		return apperr.InvalidField("reason", "at most 200 characters")
	}
	switch r.Kind {
	case KindUsername:
		if r.Pattern == "" && r.MaxAccountAgeDays == 0 && !r.RequireNoAvatar {
			return apperr.InvalidField("pattern", "a username rule needs a pattern, an account age or the no-avatar condition")
		}
		if r.Pattern != "" {
			if _, err := CompilePattern(r.Pattern); err != nil {
				return err
			}
		}
		if r.MaxAccountAgeDays < 0 || r.MaxAccountAgeDays > 3650 {
			return apperr.InvalidField("max_account_age_days", "must be between 0 (any age) and 3650, got %d", r.MaxAccountAgeDays)
		}
	case KindMessageRate, KindDuplicate, KindChannelSpread:
		if r.Count < 2 || r.Count > MaxCount {
			return apperr.InvalidField("count", "must be between 2 and %d, got %d", MaxCount, r.Count)
		}
		if r.WindowSeconds < 1 || r.Window() > MaxWindow {
			return apperr.InvalidField("window_seconds", "must be between 1 and %d, got %d", int(MaxWindow.Seconds()), r.WindowSeconds)
		}
	case KindAttachment:
		if len(r.Extensions) == 0 {
			return apperr.InvalidField("extensions", "list at least one file extension, e.g. exe")
		}
		if len(r.Extensions) > MaxExtensions {
			return apperr.InvalidField("extensions", "at most %d extensions", MaxExtensions)
		}
		for i, e := range r.Extensions {
			e = strings.ToLower(strings.TrimSpace(strings.TrimLeft(e, ".")))
			if e == "" || len(e) > 32 || strings.ContainsAny(e, "./\\ ") {
				return apperr.InvalidField(fmt.Sprintf("extensions[%d]", i), "must be an extension like exe or tar.gz's gz, got %q", r.Extensions[i])
			}
			r.Extensions[i] = e
		}
		slices.Sort(r.Extensions)
		r.Extensions = slices.Compact(r.Extensions)
	default:
		return apperr.InvalidField("kind", "must be one of username, message_rate, duplicate, channel_spread, attachment; got %q", r.Kind)
	}
	switch r.Action {
	case ActionDelete:
		if r.Kind == KindUsername {
			return apperr.InvalidField("action", "a join has no message to delete: use warn, timeout, kick or ban")
		}
	case ActionWarn, ActionKick, ActionBan:
	case ActionTimeout:
		if r.TimeoutSeconds < 1 || r.Timeout() > MaxTimeout {
			return apperr.InvalidField("timeout_seconds", "a timeout needs a duration between 1 second and 28 days, got %d seconds", r.TimeoutSeconds)
		}
	default:
		return apperr.InvalidField("action", "must be one of delete, warn, timeout, kick, ban; got %q", r.Action)
	}
	if len(r.ExemptRoles) > 100 || len(r.ExemptChannels) > 100 {
		return apperr.InvalidField("exempt_roles", "at most 100 exempt roles and 100 exempt channels")
	}
	return nil
}

// CompilePattern compiles an RE2 pattern, refusing ones too large to run fast.
func CompilePattern(p string) (*regexp.Regexp, error) {
	if len(p) > MaxPatternLength {
		return nil, apperr.InvalidField("pattern", "at most %d characters, got %d", MaxPatternLength, len(p))
	}
	parsed, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, apperr.InvalidField("pattern", "not a valid RE2 regular expression: %s", describeSyntaxError(err))
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, apperr.InvalidField("pattern", "not a valid RE2 regular expression: %s", describeSyntaxError(err))
	}
	if len(prog.Inst) > maxProgramSize {
		return nil, apperr.InvalidField("pattern", "too complex (%d instructions, at most %d): simplify the repetitions", len(prog.Inst), maxProgramSize)
	}
	// Case-insensitive by default: raiders vary case to dodge rules.
	re, err := regexp.Compile("(?i)" + p)
	if err != nil {
		return nil, apperr.InvalidField("pattern", "not a valid RE2 regular expression: %s", describeSyntaxError(err))
	}
	return re, nil
}

func describeSyntaxError(err error) string {
	if se, ok := err.(*syntax.Error); ok {
		return fmt.Sprintf("%s in %q", se.Code, se.Expr)
	}
	return err.Error()
}

// Settings are a guild's moderation settings beside its rules.
type Settings struct {
	ModLogChannel    int64   `json:"mod_log_channel,string,omitempty"`
	ExemptRoles      []int64 `json:"exempt_roles"`
	ExemptChannels   []int64 `json:"exempt_channels"`
	ModeratorsExempt bool    `json:"moderators_exempt"`
	// Escalation: EscalateAfter warnings within EscalateWindowHours open a
	// case with EscalateAction. 0 turns it off.
	EscalateAfter          int    `json:"escalate_after"`
	EscalateWindowHours    int    `json:"escalate_window_hours"`
	EscalateAction         Action `json:"escalate_action,omitempty"`
	EscalateTimeoutSeconds int    `json:"escalate_timeout_seconds,omitempty"`
	Version                int64  `json:"version"`
}

// DefaultSettings: moderators exempt, no mod-log, no escalation.
func DefaultSettings() Settings {
	return Settings{ModeratorsExempt: true, ExemptRoles: []int64{}, ExemptChannels: []int64{}}
}

// Validate checks the settings; errors name the field.
func (s *Settings) Validate() error {
	if s.ModLogChannel < 0 {
		return apperr.InvalidField("mod_log_channel", "must be a Discord channel id")
	}
	if len(s.ExemptRoles) > 100 || len(s.ExemptChannels) > 100 {
		return apperr.InvalidField("exempt_roles", "at most 100 exempt roles and 100 exempt channels")
	}
	if s.ExemptRoles == nil {
		s.ExemptRoles = []int64{}
	}
	if s.ExemptChannels == nil {
		s.ExemptChannels = []int64{}
	}
	if s.EscalateAfter == 0 {
		return nil
	}
	if s.EscalateAfter < 2 || s.EscalateAfter > 50 {
		return apperr.InvalidField("escalate_after", "must be between 2 and 50 warnings, or 0 for no escalation; got %d", s.EscalateAfter)
	}
	if s.EscalateWindowHours < 1 || s.EscalateWindowHours > 24*365 {
		return apperr.InvalidField("escalate_window_hours", "must be between 1 and 8760, got %d", s.EscalateWindowHours)
	}
	switch s.EscalateAction {
	case ActionKick, ActionBan:
	case ActionTimeout:
		if s.EscalateTimeoutSeconds < 1 || time.Duration(s.EscalateTimeoutSeconds)*time.Second > MaxTimeout {
			return apperr.InvalidField("escalate_timeout_seconds", "a timeout needs a duration between 1 second and 28 days")
		}
	default:
		return apperr.InvalidField("escalate_action", "must be timeout, kick or ban; got %q", s.EscalateAction)
	}
	return nil
}
