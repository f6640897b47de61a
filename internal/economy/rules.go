// Package economy is the bytes economy: balances, the daily reward with
// streaks, transfers, the ledger, the leaderboard and role rewards. The rules
// in this file are plain functions over values; service.go does the I/O.
package economy

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smarterdev/smarterdev/internal/apperr"
)

// Limits that keep every product of two configured values inside int64.
const (
	MaxAmount        = 1_000_000_000_000 // any configured amount of bytes
	MaxMultiplier    = 1000
	MaxTiers         = 20
	MaxRoleRewards   = 50
	MaxReasonLength  = 200
	MaxCooldownHours = 24 * 30
	MaxTierDays      = 3650
	DefaultTopN      = 10
	MaxTopN          = 100
)

// StreakTier multiplies the daily reward from Days consecutive days on.
type StreakTier struct {
	Days       int    `json:"days"`
	Multiplier int64  `json:"multiplier"`
	Name       string `json:"name"`
}

// RoleReward grants RoleID once total_received reaches Threshold.
type RoleReward struct {
	RoleID    int64 `json:"role_id,string"`
	Threshold int64 `json:"threshold"`
}

// Config is a guild's economy configuration.
type Config struct {
	StartingBalance       int64        `json:"starting_balance"`
	DailyAmount           int64        `json:"daily_amount"`
	MaxTransfer           int64        `json:"max_transfer"`
	TransferCooldownHours int          `json:"transfer_cooldown_hours"`
	StreakTiers           []StreakTier `json:"streak_tiers"`
	SquadMinBalance       int64        `json:"squad_min_balance"`
	RoleRewards           []RoleReward `json:"role_rewards"`
	// DailyFeedback is how the bot tells a member about their daily reward.
	DailyFeedback string `json:"daily_feedback"`
	Version       int64  `json:"version"` // 0 until first saved
}

// How the bot acknowledges a daily reward in the channel.
const (
	FeedbackReaction = "reaction" // a reaction on the member's message
	FeedbackReply    = "reply"    // a short reply with the streak and multiplier
	FeedbackNone     = "none"
)

// DefaultConfig is what a guild gets until an admin changes it.
func DefaultConfig() Config {
	return Config{
		StartingBalance: 100,
		DailyAmount:     10,
		MaxTransfer:     1000,
		StreakTiers: []StreakTier{
			{Days: 8, Multiplier: 2, Name: "CHAR"},
			{Days: 16, Multiplier: 4, Name: "SHORT"},
			{Days: 32, Multiplier: 8, Name: "INT"},
			{Days: 64, Multiplier: 16, Name: "LONG"},
		},
		RoleRewards:   []RoleReward{},
		DailyFeedback: FeedbackReaction,
	}
}

// Validate reports the first invalid field with what a good value looks like.
// It also sorts the tiers and role rewards into their canonical order.
func (c *Config) Validate() error {
	if errs := c.check(false); len(errs) > 0 {
		return errs[0]
	}
	c.normalize()
	return nil
}

// Problems reports every invalid field at once, in form order, for a form
// that should say all that is wrong in one answer. It changes nothing.
func (c Config) Problems() []error {
	return c.check(true)
}

// check returns the invalid fields, only the first unless all.
func (c Config) check(all bool) []error {
	var errs []error
	bad := func(err error) bool {
		if err != nil {
			errs = append(errs, err)
		}
		return err != nil && !all
	}
	if bad(inRange("starting_balance", c.StartingBalance, 0, MaxAmount)) ||
		bad(inRange("daily_amount", c.DailyAmount, 0, 1_000_000_000)) ||
		bad(inRange("max_transfer", c.MaxTransfer, 1, MaxAmount)) ||
		bad(inRange("transfer_cooldown_hours", int64(c.TransferCooldownHours), 0, MaxCooldownHours)) ||
		bad(inRange("squad_min_balance", c.SquadMinBalance, 0, MaxAmount)) {
		return errs
	}
	switch c.DailyFeedback {
	case "", FeedbackReaction, FeedbackReply, FeedbackNone:
	default:
		if bad(apperr.InvalidField("daily_feedback", "must be %q, %q or %q, got %q", FeedbackReaction, FeedbackReply, FeedbackNone, c.DailyFeedback)) {
			return errs
		}
	}
	if len(c.StreakTiers) > MaxTiers {
		if bad(apperr.InvalidField("streak_tiers", "at most %d tiers, got %d", MaxTiers, len(c.StreakTiers))) {
			return errs
		}
	}
	// Fields are checked in the order the admin sent them, so an index in an
	// error points at the row they typed; sorting comes after.
	firstAt := map[int]int{}
	for i, t := range c.StreakTiers {
		f := fmt.Sprintf("streak_tiers[%d]", i)
		if t.Days < 1 || t.Days > MaxTierDays {
			if bad(apperr.InvalidField(f+".days", "must be between 1 and %d, got %d", MaxTierDays, t.Days)) {
				return errs
			}
		} else if j, dup := firstAt[t.Days]; dup {
			if bad(apperr.InvalidField(f+".days", "tier %d already starts at %d days; each tier needs its own length", j, t.Days)) {
				return errs
			}
		} else {
			firstAt[t.Days] = i
		}
		if t.Multiplier < 1 || t.Multiplier > MaxMultiplier {
			if bad(apperr.InvalidField(f+".multiplier", "must be between 1 and %d, got %d", MaxMultiplier, t.Multiplier)) {
				return errs
			}
		}
		if n := utf8.RuneCountInString(strings.TrimSpace(t.Name)); n > 32 {
			if bad(apperr.InvalidField(f+".name", "at most 32 characters, got %d", n)) {
				return errs
			}
		}
	}
	if len(c.RoleRewards) > MaxRoleRewards {
		if bad(apperr.InvalidField("role_rewards", "at most %d role rewards, got %d", MaxRoleRewards, len(c.RoleRewards))) {
			return errs
		}
	}
	seen := map[int64]bool{}
	for i, r := range c.RoleRewards {
		f := fmt.Sprintf("role_rewards[%d]", i)
		if r.RoleID <= 0 {
			if bad(apperr.InvalidField(f+".role_id", "must be a Discord role id (a positive snowflake)")) {
				return errs
			}
		} else if seen[r.RoleID] {
			if bad(apperr.InvalidField(f+".role_id", "role %d appears twice; a role can have one threshold", r.RoleID)) {
				return errs
			}
		}
		seen[r.RoleID] = true
		if bad(inRange(f+".threshold", r.Threshold, 1, MaxAmount)) {
			return errs
		}
	}
	return errs
}

// normalize puts a valid config into its canonical form: the default
// feedback, trimmed tier names, tiers and rewards sorted, no nil slices.
func (c *Config) normalize() {
	if c.DailyFeedback == "" {
		c.DailyFeedback = FeedbackReaction
	}
	for i := range c.StreakTiers {
		c.StreakTiers[i].Name = strings.TrimSpace(c.StreakTiers[i].Name)
	}
	sort.SliceStable(c.StreakTiers, func(i, j int) bool { return c.StreakTiers[i].Days < c.StreakTiers[j].Days })
	sort.SliceStable(c.RoleRewards, func(i, j int) bool {
		if c.RoleRewards[i].Threshold != c.RoleRewards[j].Threshold {
			return c.RoleRewards[i].Threshold < c.RoleRewards[j].Threshold
		}
		return c.RoleRewards[i].RoleID < c.RoleRewards[j].RoleID
	})
	if c.StreakTiers == nil {
		c.StreakTiers = []StreakTier{}
	}
	if c.RoleRewards == nil {
		c.RoleRewards = []RoleReward{}
	}
}

func inRange(field string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return apperr.InvalidField(field, "must be between %d and %d, got %d", lo, hi, v)
	}
	return nil
}

// Day is a UTC calendar day, "2006-01-02".
type Day string

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day { return Day(t.UTC().Format(time.DateOnly)) }

// Prev is the day before d.
func (d Day) Prev() Day {
	t, err := time.Parse(time.DateOnly, string(d))
	if err != nil {
		return ""
	}
	return DayOf(t.AddDate(0, 0, -1))
}

// NextDayStart is the first instant of the UTC day after t's.
func NextDayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// Tier returns the tier in force for a streak, or ok=false below every tier.
func (c Config) Tier(streak int) (StreakTier, bool) {
	var best StreakTier
	ok := false
	for _, t := range c.StreakTiers {
		if streak >= t.Days && (!ok || t.Days > best.Days) {
			best, ok = t, true
		}
	}
	return best, ok
}

// Multiplier is the daily-reward multiplier for a streak length.
func (c Config) Multiplier(streak int) int64 {
	if t, ok := c.Tier(streak); ok {
		return t.Multiplier
	}
	return 1
}

// Daily is the outcome of a daily claim.
type Daily struct {
	Day        Day
	Streak     int
	Multiplier int64
	Amount     int64
}

// NextDaily decides the reward for a claim at now, given the account's last
// rewarded day ("" if never) and streak. It refuses a second claim on one day.
func NextDaily(c Config, lastDaily Day, streak int, now time.Time) (Daily, error) {
	today := DayOf(now)
	if lastDaily == today {
		next := NextDayStart(now)
		return Daily{}, &AlreadyClaimedError{NextAt: next, Remaining: next.Sub(now)}
	}
	s := 1
	if lastDaily != "" && lastDaily == today.Prev() {
		s = streak + 1
	}
	m := c.Multiplier(s)
	return Daily{Day: today, Streak: s, Multiplier: m, Amount: c.DailyAmount * m}, nil
}

// Member names a party to an economy operation as Discord shows them now.
type Member struct {
	ID   int64
	Name string
	Bot  bool
}

// CheckTransfer applies the rules that need no stored state.
func CheckTransfer(c Config, giver, receiver Member, amount int64, reason string) error {
	if giver.ID <= 0 {
		return apperr.InvalidField("giver_id", "must be a Discord user id")
	}
	if receiver.ID <= 0 {
		return apperr.InvalidField("receiver_id", "must be a Discord user id")
	}
	if giver.ID == receiver.ID {
		return apperr.InvalidField("receiver_id", "you cannot send bytes to yourself")
	}
	if receiver.Bot {
		return apperr.InvalidField("receiver_id", "bots cannot receive bytes")
	}
	if giver.Bot {
		return apperr.InvalidField("giver_id", "bots cannot send bytes")
	}
	if amount < 1 || amount > c.MaxTransfer {
		return apperr.InvalidField("amount", "must be between 1 and %d bytes, got %d", c.MaxTransfer, amount)
	}
	return CheckReason(reason)
}

// CheckReason limits a free-text reason.
func CheckReason(reason string) error {
	if n := len([]rune(reason)); n > MaxReasonLength {
		return apperr.InvalidField("reason", "at most %d characters, got %d", MaxReasonLength, n)
	}
	return nil
}

// CooldownLeft is how long the giver must still wait, or 0.
func CooldownLeft(c Config, lastTransfer time.Time, now time.Time) time.Duration {
	if c.TransferCooldownHours == 0 || lastTransfer.IsZero() {
		return 0
	}
	left := lastTransfer.Add(time.Duration(c.TransferCooldownHours) * time.Hour).Sub(now)
	return max(left, 0)
}

// RolesCrossed lists the role rewards whose threshold lies in (before, after]:
// the ones a credit from before to after has just earned.
func RolesCrossed(c Config, before, after int64) []RoleReward {
	var out []RoleReward
	for _, r := range c.RoleRewards {
		if r.Threshold > before && r.Threshold <= after {
			out = append(out, r)
		}
	}
	return out
}

// RolesDue lists every role reward a member with totalReceived has earned.
func RolesDue(c Config, totalReceived int64) []RoleReward {
	return RolesCrossed(c, -1, totalReceived)
}

// ClampTopN applies the leaderboard's limits.
func ClampTopN(n int) (int, error) {
	if n == 0 {
		return DefaultTopN, nil
	}
	if n < 1 || n > MaxTopN {
		return 0, apperr.InvalidField("limit", "must be between 1 and %d, got %d", MaxTopN, n)
	}
	return n, nil
}
