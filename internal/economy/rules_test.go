package economy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
)

// fieldOf returns the Field of an *apperr.Error in err's chain.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *apperr.Error", err, err)
	}
	if ae.C != apperr.Invalid {
		t.Errorf("code of %v = %q, want %q", err, ae.C, apperr.Invalid)
	}
	return ae.Field
}

func date(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestDefaultConfigIsValidAndMatchesTheSpec(t *testing.T) {
	c := economy.DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if c.StartingBalance != 100 || c.DailyAmount != 10 || c.MaxTransfer != 1000 || c.TransferCooldownHours != 0 {
		t.Errorf("defaults = %+v; want starting 100, daily 10, max transfer 1000, cooldown 0", c)
	}
	want := []economy.StreakTier{{8, 2, "CHAR"}, {16, 4, "SHORT"}, {32, 8, "INT"}, {64, 16, "LONG"}}
	if len(c.StreakTiers) != len(want) {
		t.Fatalf("tiers = %+v, want %+v", c.StreakTiers, want)
	}
	for i := range want {
		if c.StreakTiers[i] != want[i] {
			t.Errorf("tier %d = %+v, want %+v", i, c.StreakTiers[i], want[i])
		}
	}
	// DefaultConfig must hand out independent copies.
	c.StreakTiers[0].Multiplier = 99
	if economy.DefaultConfig().StreakTiers[0].Multiplier != 2 {
		t.Error("DefaultConfig shares its tier slice between calls")
	}
}

func TestMultiplierDefaultTable(t *testing.T) {
	c := economy.DefaultConfig()
	cases := []struct {
		streak int
		want   int64
		tier   string
	}{
		{0, 1, ""}, {1, 1, ""}, {7, 1, ""},
		{8, 2, "CHAR"}, {9, 2, "CHAR"}, {15, 2, "CHAR"},
		{16, 4, "SHORT"}, {31, 4, "SHORT"},
		{32, 8, "INT"}, {63, 8, "INT"},
		{64, 16, "LONG"}, {65, 16, "LONG"}, {1000, 16, "LONG"},
	}
	for _, tc := range cases {
		if got := c.Multiplier(tc.streak); got != tc.want {
			t.Errorf("Multiplier(%d) = %d, want %d", tc.streak, got, tc.want)
		}
		tier, ok := c.Tier(tc.streak)
		if ok != (tc.tier != "") || tier.Name != tc.tier {
			t.Errorf("Tier(%d) = %+v, %v; want %q", tc.streak, tier, ok, tc.tier)
		}
	}
}

func TestMultiplierCustomTable(t *testing.T) {
	c := economy.DefaultConfig()
	c.StreakTiers = []economy.StreakTier{{Days: 2, Multiplier: 3}, {Days: 5, Multiplier: 10}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for streak, want := range map[int]int64{1: 1, 2: 3, 4: 3, 5: 10, 100: 10} {
		if got := c.Multiplier(streak); got != want {
			t.Errorf("Multiplier(%d) = %d, want %d", streak, got, want)
		}
	}
	c.StreakTiers = nil
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.StreakTiers == nil {
		t.Error("Validate left nil tiers; want an empty slice")
	}
	if got := c.Multiplier(500); got != 1 {
		t.Errorf("empty table: Multiplier(500) = %d, want 1", got)
	}
}

func TestValidateSortsTiersAndRewards(t *testing.T) {
	c := economy.DefaultConfig()
	c.StreakTiers = []economy.StreakTier{
		{Days: 30, Multiplier: 5, Name: "  C  "}, {Days: 3, Multiplier: 2, Name: "A"}, {Days: 10, Multiplier: 4, Name: "B"},
	}
	c.RoleRewards = []economy.RoleReward{{RoleID: 9, Threshold: 500}, {RoleID: 7, Threshold: 50}, {RoleID: 5, Threshold: 500}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	days := []int{}
	for _, tr := range c.StreakTiers {
		days = append(days, tr.Days)
	}
	if days[0] != 3 || days[1] != 10 || days[2] != 30 {
		t.Errorf("tier days after Validate = %v, want [3 10 30]", days)
	}
	if c.StreakTiers[2].Name != "C" {
		t.Errorf("tier name %q, want trimmed %q", c.StreakTiers[2].Name, "C")
	}
	want := []economy.RoleReward{{7, 50}, {5, 500}, {9, 500}}
	for i := range want {
		if c.RoleRewards[i] != want[i] {
			t.Fatalf("role rewards after Validate = %+v, want %+v", c.RoleRewards, want)
		}
	}
	// The multiplier of an unsorted table is the one of the longest tier reached.
	if got := c.Multiplier(12); got != 4 {
		t.Errorf("Multiplier(12) = %d, want 4", got)
	}
}

func TestTierIgnoresInputOrderEvenUnvalidated(t *testing.T) {
	c := economy.Config{StreakTiers: []economy.StreakTier{{Days: 16, Multiplier: 4}, {Days: 8, Multiplier: 2}}}
	if got := c.Multiplier(20); got != 4 {
		t.Errorf("Multiplier(20) on an unsorted table = %d, want 4", got)
	}
	if got := c.Multiplier(10); got != 2 {
		t.Errorf("Multiplier(10) on an unsorted table = %d, want 2", got)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	manyTiers := make([]economy.StreakTier, economy.MaxTiers+1)
	for i := range manyTiers {
		manyTiers[i] = economy.StreakTier{Days: i + 1, Multiplier: 1}
	}
	manyRewards := make([]economy.RoleReward, economy.MaxRoleRewards+1)
	for i := range manyRewards {
		manyRewards[i] = economy.RoleReward{RoleID: int64(i + 1), Threshold: 10}
	}
	cases := []struct {
		name  string
		edit  func(c *economy.Config)
		field string
	}{
		{"negative starting balance", func(c *economy.Config) { c.StartingBalance = -1 }, "starting_balance"},
		{"starting balance too large", func(c *economy.Config) { c.StartingBalance = economy.MaxAmount + 1 }, "starting_balance"},
		{"negative daily amount", func(c *economy.Config) { c.DailyAmount = -5 }, "daily_amount"},
		{"max transfer 0", func(c *economy.Config) { c.MaxTransfer = 0 }, "max_transfer"},
		{"negative cooldown", func(c *economy.Config) { c.TransferCooldownHours = -1 }, "transfer_cooldown_hours"},
		{"cooldown too long", func(c *economy.Config) { c.TransferCooldownHours = economy.MaxCooldownHours + 1 }, "transfer_cooldown_hours"},
		{"negative squad minimum", func(c *economy.Config) { c.SquadMinBalance = -1 }, "squad_min_balance"},
		{"too many tiers", func(c *economy.Config) { c.StreakTiers = manyTiers }, "streak_tiers"},
		{"tier days 0", func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: 0, Multiplier: 2}}
		}, "streak_tiers[0].days"},
		{"tier days too long", func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: economy.MaxTierDays + 1, Multiplier: 2}}
		}, "streak_tiers[0].days"},
		{"duplicate tier days", func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: 8, Multiplier: 2}, {Days: 8, Multiplier: 3}}
		}, "streak_tiers[1].days"},
		{"multiplier 0", func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: 8, Multiplier: 0}}
		}, "streak_tiers[0].multiplier"},
		{"multiplier too large", func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: 8, Multiplier: economy.MaxMultiplier + 1}}
		}, "streak_tiers[0].multiplier"},
		{"tier name too long", func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: 8, Multiplier: 2, Name: strings.Repeat("x", 33)}}
		}, "streak_tiers[0].name"},
		{"too many role rewards", func(c *economy.Config) { c.RoleRewards = manyRewards }, "role_rewards"},
		{"role id 0", func(c *economy.Config) {
			c.RoleRewards = []economy.RoleReward{{RoleID: 0, Threshold: 10}}
		}, "role_rewards[0].role_id"},
		{"duplicate role", func(c *economy.Config) {
			c.RoleRewards = []economy.RoleReward{{RoleID: 5, Threshold: 10}, {RoleID: 5, Threshold: 20}}
		}, "role_rewards[1].role_id"},
		{"threshold 0", func(c *economy.Config) {
			c.RoleRewards = []economy.RoleReward{{RoleID: 5, Threshold: 10}, {RoleID: 6, Threshold: 0}}
		}, "role_rewards[1].threshold"},
		{"negative threshold", func(c *economy.Config) {
			c.RoleRewards = []economy.RoleReward{{RoleID: 5, Threshold: -3}}
		}, "role_rewards[0].threshold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := economy.DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %+v", c)
			}
			if got := fieldOf(t, err); got != tc.field {
				t.Errorf("Validate field = %q, want %q (err: %v)", got, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), tc.field) {
				t.Errorf("message %q does not name the field %q", err.Error(), tc.field)
			}
		})
	}
}

func TestValidateAcceptsBoundaries(t *testing.T) {
	c := economy.DefaultConfig()
	c.StartingBalance = 0
	c.DailyAmount = 0
	c.MaxTransfer = 1
	c.TransferCooldownHours = economy.MaxCooldownHours
	c.StreakTiers = []economy.StreakTier{{Days: 1, Multiplier: 1}, {Days: economy.MaxTierDays, Multiplier: economy.MaxMultiplier, Name: strings.Repeat("x", 32)}}
	c.RoleRewards = []economy.RoleReward{{RoleID: 1, Threshold: 1}, {RoleID: 2, Threshold: economy.MaxAmount}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate refused boundary values: %v", err)
	}
}

// The field of an invalid tier must point at the tier the admin sent, not at
// its position after Validate's sort: the dashboard highlights that row.
func TestValidateTierFieldIndexRefersToInput(t *testing.T) {
	c := economy.DefaultConfig()
	c.StreakTiers = []economy.StreakTier{{Days: 16, Multiplier: 4}, {Days: 8, Multiplier: 0}}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted multiplier 0")
	}
	if got := fieldOf(t, err); got != "streak_tiers[1].multiplier" {
		t.Errorf("field = %q, want %q: the invalid tier is the second one sent", got, "streak_tiers[1].multiplier")
	}
}

// "at most 32 characters": a name of 32 multi-byte characters is 32 characters.
func TestValidateTierNameCountsCharactersNotBytes(t *testing.T) {
	c := economy.DefaultConfig()
	c.StreakTiers = []economy.StreakTier{{Days: 8, Multiplier: 2, Name: strings.Repeat("é", 20)}}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate refused a 20-character tier name: %v", err)
	}
}

func TestDayHelpers(t *testing.T) {
	cases := []struct {
		t    time.Time
		day  economy.Day
		prev economy.Day
		next time.Time
	}{
		{date(2024, 3, 15, 12, 0), "2024-03-15", "2024-03-14", date(2024, 3, 16, 0, 0)},
		{date(2024, 1, 1, 0, 0), "2024-01-01", "2023-12-31", date(2024, 1, 2, 0, 0)},
		{date(2024, 3, 1, 23, 59), "2024-03-01", "2024-02-29", date(2024, 3, 2, 0, 0)}, // leap year
		{date(2023, 3, 1, 5, 0), "2023-03-01", "2023-02-28", date(2023, 3, 2, 0, 0)},
		{date(2023, 12, 31, 23, 59), "2023-12-31", "2023-12-30", date(2024, 1, 1, 0, 0)},
		// 01:30 in UTC+3 is 22:30 UTC the day before.
		{time.Date(2024, 6, 1, 1, 30, 0, 0, time.FixedZone("UTC+3", 3*3600)), "2024-05-31", "2024-05-30", date(2024, 6, 1, 0, 0)},
		// 22:00 in UTC-5 is 03:00 UTC the next day.
		{time.Date(2024, 6, 1, 22, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), "2024-06-02", "2024-06-01", date(2024, 6, 3, 0, 0)},
	}
	for _, tc := range cases {
		if got := economy.DayOf(tc.t); got != tc.day {
			t.Errorf("DayOf(%v) = %q, want %q", tc.t, got, tc.day)
		}
		if got := tc.day.Prev(); got != tc.prev {
			t.Errorf("%q.Prev() = %q, want %q", tc.day, got, tc.prev)
		}
		got := economy.NextDayStart(tc.t)
		if !got.Equal(tc.next) || got.Location() != time.UTC {
			t.Errorf("NextDayStart(%v) = %v, want %v UTC", tc.t, got, tc.next)
		}
	}
	if got := economy.Day("garbage").Prev(); got != "" {
		t.Errorf("Prev of a malformed day = %q, want empty", got)
	}
}

func TestNextDaily(t *testing.T) {
	c := economy.DefaultConfig()
	cases := []struct {
		name       string
		last       economy.Day
		streak     int
		now        time.Time
		wantStreak int
		wantMult   int64
	}{
		{"first claim", "", 0, date(2024, 5, 10, 9, 0), 1, 1},
		{"consecutive day", "2024-05-09", 3, date(2024, 5, 10, 9, 0), 4, 1},
		{"day 8 reaches x2", "2024-05-09", 7, date(2024, 5, 10, 0, 0), 8, 2},
		{"day 16 reaches x4", "2024-05-09", 15, date(2024, 5, 10, 23, 59), 16, 4},
		{"day 64 reaches x16", "2024-05-09", 63, date(2024, 5, 10, 1, 0), 64, 16},
		{"missed a day resets", "2024-05-08", 40, date(2024, 5, 10, 9, 0), 1, 1},
		{"long gap resets", "2023-01-01", 100, date(2024, 5, 10, 9, 0), 1, 1},
		{"across a year", "2023-12-31", 9, date(2024, 1, 1, 0, 5), 10, 2},
		{"across a month", "2024-02-29", 2, date(2024, 3, 1, 12, 0), 3, 1},
		{"non-UTC time: same UTC day as last is prev+1", "2024-05-09",
			5, time.Date(2024, 5, 10, 2, 0, 0, 0, time.FixedZone("UTC+1", 3600)), 6, 1},
		{"non-UTC time: next UTC day", "2024-05-10",
			5, time.Date(2024, 5, 10, 20, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), 6, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := economy.NextDaily(c, tc.last, tc.streak, tc.now)
			if err != nil {
				t.Fatalf("NextDaily: %v", err)
			}
			if d.Streak != tc.wantStreak || d.Multiplier != tc.wantMult || d.Amount != c.DailyAmount*tc.wantMult {
				t.Errorf("NextDaily = %+v, want streak %d multiplier %d amount %d", d, tc.wantStreak, tc.wantMult, c.DailyAmount*tc.wantMult)
			}
			if d.Day != economy.DayOf(tc.now) {
				t.Errorf("Day = %q, want %q", d.Day, economy.DayOf(tc.now))
			}
		})
	}
}

func TestNextDailySameDayIsAlreadyClaimed(t *testing.T) {
	c := economy.DefaultConfig()
	cases := []struct {
		now       time.Time
		last      economy.Day
		nextAt    time.Time
		remaining time.Duration
	}{
		{date(2024, 5, 10, 18, 30), "2024-05-10", date(2024, 5, 11, 0, 0), 5*time.Hour + 30*time.Minute},
		{date(2024, 5, 10, 0, 0), "2024-05-10", date(2024, 5, 11, 0, 0), 24 * time.Hour},
		{date(2023, 12, 31, 23, 59), "2023-12-31", date(2024, 1, 1, 0, 0), time.Minute},
		// 21:00 in UTC-4 is 01:00 UTC on the 11th.
		{time.Date(2024, 5, 10, 21, 0, 0, 0, time.FixedZone("UTC-4", -4*3600)), "2024-05-11", date(2024, 5, 12, 0, 0), 23 * time.Hour},
	}
	for _, tc := range cases {
		_, err := economy.NextDaily(c, tc.last, 5, tc.now)
		var ac *economy.AlreadyClaimedError
		if !errors.As(err, &ac) {
			t.Fatalf("NextDaily(%v) same day = %v, want AlreadyClaimedError", tc.now, err)
		}
		if !ac.NextAt.Equal(tc.nextAt) || ac.Remaining != tc.remaining {
			t.Errorf("at %v: NextAt %v Remaining %v, want %v and %v", tc.now, ac.NextAt, ac.Remaining, tc.nextAt, tc.remaining)
		}
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("code %q, want conflict", apperr.CodeOf(err))
		}
	}
}

func TestCheckTransfer(t *testing.T) {
	c := economy.DefaultConfig()
	alice := economy.Member{ID: 1, Name: "alice"}
	bob := economy.Member{ID: 2, Name: "bob"}
	bot := economy.Member{ID: 3, Name: "botty", Bot: true}
	cases := []struct {
		name     string
		giver    economy.Member
		receiver economy.Member
		amount   int64
		reason   string
		field    string // "" = ok
	}{
		{"ok", alice, bob, 10, "thanks", ""},
		{"max transfer ok", alice, bob, 1000, "", ""},
		{"one byte ok", alice, bob, 1, "", ""},
		{"self", alice, alice, 10, "", "receiver_id"},
		{"bot receiver", alice, bot, 10, "", "receiver_id"},
		{"bot giver", bot, bob, 10, "", "giver_id"},
		{"amount 0", alice, bob, 0, "", "amount"},
		{"negative amount", alice, bob, -5, "", "amount"},
		{"above max_transfer", alice, bob, 1001, "", "amount"},
		{"giver id 0", economy.Member{}, bob, 10, "", "giver_id"},
		{"receiver id 0", alice, economy.Member{}, 10, "", "receiver_id"},
		{"reason 200 runes ok", alice, bob, 10, strings.Repeat("a", 200), ""},
		{"reason 200 multi-byte runes ok", alice, bob, 10, strings.Repeat("ß", 199) + "🎉", ""},
		{"reason 201 runes", alice, bob, 10, strings.Repeat("a", 201), "reason"},
		{"reason 201 multi-byte runes", alice, bob, 10, strings.Repeat("é", 201), "reason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := economy.CheckTransfer(c, tc.giver, tc.receiver, tc.amount, tc.reason)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("CheckTransfer = %v, want ok", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckTransfer accepted it")
			}
			if got := fieldOf(t, err); got != tc.field {
				t.Errorf("field = %q, want %q (%v)", got, tc.field, err)
			}
		})
	}
	// max_transfer follows the configuration.
	c.MaxTransfer = 5
	if err := economy.CheckTransfer(c, alice, bob, 6, ""); err == nil {
		t.Error("CheckTransfer ignored a custom max_transfer")
	}
}

func TestCooldownLeft(t *testing.T) {
	now := date(2024, 5, 10, 12, 0)
	c := economy.DefaultConfig()
	if got := economy.CooldownLeft(c, now.Add(-time.Minute), now); got != 0 {
		t.Errorf("no cooldown configured: %v, want 0", got)
	}
	c.TransferCooldownHours = 2
	cases := []struct {
		last time.Time
		want time.Duration
	}{
		{time.Time{}, 0},
		{now, 2 * time.Hour},
		{now.Add(-30 * time.Minute), 90 * time.Minute},
		{now.Add(-2 * time.Hour), 0},
		{now.Add(-3 * time.Hour), 0},
		{now.Add(-2*time.Hour + time.Second), time.Second},
	}
	for _, tc := range cases {
		if got := economy.CooldownLeft(c, tc.last, now); got != tc.want {
			t.Errorf("CooldownLeft(last %v) = %v, want %v", tc.last, got, tc.want)
		}
	}
}

func TestRolesCrossedAndDue(t *testing.T) {
	c := economy.DefaultConfig()
	c.RoleRewards = []economy.RoleReward{{RoleID: 30, Threshold: 500}, {RoleID: 10, Threshold: 50}, {RoleID: 20, Threshold: 100}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ids := func(rs []economy.RoleReward) []int64 {
		out := []int64{}
		for _, r := range rs {
			out = append(out, r.RoleID)
		}
		return out
	}
	eq := func(a, b []int64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	crossed := []struct {
		before, after int64
		want          []int64
	}{
		{0, 49, []int64{}},
		{0, 50, []int64{10}},
		{49, 50, []int64{10}},
		{50, 99, []int64{}}, // already had 50
		{50, 100, []int64{20}},
		{0, 1000, []int64{10, 20, 30}},
		{100, 499, []int64{}},
		{499, 500, []int64{30}},
	}
	for _, tc := range crossed {
		if got := ids(economy.RolesCrossed(c, tc.before, tc.after)); !eq(got, tc.want) {
			t.Errorf("RolesCrossed(%d, %d) = %v, want %v", tc.before, tc.after, got, tc.want)
		}
	}
	due := []struct {
		total int64
		want  []int64
	}{{0, []int64{}}, {49, []int64{}}, {50, []int64{10}}, {120, []int64{10, 20}}, {500, []int64{10, 20, 30}}}
	for _, tc := range due {
		if got := ids(economy.RolesDue(c, tc.total)); !eq(got, tc.want) {
			t.Errorf("RolesDue(%d) = %v, want %v", tc.total, got, tc.want)
		}
	}
}

func TestClampTopN(t *testing.T) {
	cases := []struct {
		in, want int
		bad      bool
	}{{0, 10, false}, {1, 1, false}, {50, 50, false}, {100, 100, false}, {101, 0, true}, {-1, 0, true}}
	for _, tc := range cases {
		got, err := economy.ClampTopN(tc.in)
		if tc.bad {
			if err == nil || fieldOf(t, err) != "limit" {
				t.Errorf("ClampTopN(%d) = %d, %v; want a limit error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ClampTopN(%d) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	cases := []struct {
		err  error
		code apperr.Code
	}{
		{&economy.InsufficientFundsError{Balance: 1, Needed: 2}, apperr.Refused},
		{&economy.CooldownError{Remaining: time.Minute}, apperr.Conflict},
		{&economy.AlreadyClaimedError{Remaining: time.Hour}, apperr.Conflict},
		{&economy.NoAccountError{GuildID: 1, UserID: 2}, apperr.NotFound},
	}
	for _, tc := range cases {
		if got := apperr.CodeOf(tc.err); got != tc.code {
			t.Errorf("CodeOf(%T) = %q, want %q", tc.err, got, tc.code)
		}
		if tc.err.Error() == "" {
			t.Errorf("%T has an empty message", tc.err)
		}
	}
	if msg := (&economy.InsufficientFundsError{Balance: 7, Needed: 30}).Error(); !strings.Contains(msg, "7") || !strings.Contains(msg, "30") {
		t.Errorf("InsufficientFundsError message %q lacks balance or amount", msg)
	}
}

func TestHumanDuration(t *testing.T) {
	cases := map[time.Duration]string{
		42 * time.Second:                      "42s",
		0:                                     "0s",
		3*time.Minute + 5*time.Second:         "3m 5s",
		3*time.Hour + 4*time.Minute:           "3h 4m",
		25*time.Hour + 59*time.Second:         "25h 0m",
		59*time.Second + 600*time.Millisecond: "1m 0s",
	}
	for d, want := range cases {
		if got := economy.HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestProblemsNamesEveryInvalidFieldAndChangesNothing(t *testing.T) {
	c := economy.DefaultConfig()
	c.StartingBalance, c.MaxTransfer, c.DailyFeedback = -1, 0, "shout"
	c.StreakTiers = []economy.StreakTier{{Days: 8, Multiplier: 2, Name: " A "}, {Days: 8, Multiplier: 0}, {Days: 0, Multiplier: 3}}
	c.RoleRewards = []economy.RoleReward{{RoleID: 5, Threshold: 10}, {RoleID: 5, Threshold: 0}}
	var fields []string
	for _, err := range c.Problems() {
		var ae *apperr.Error
		if !errors.As(err, &ae) {
			t.Fatalf("%v is not an apperr", err)
		}
		fields = append(fields, ae.Field)
	}
	want := []string{"starting_balance", "max_transfer", "daily_feedback", "streak_tiers[1].days", "streak_tiers[1].multiplier",
		"streak_tiers[2].days", "role_rewards[1].role_id", "role_rewards[1].threshold"}
	if !slices.Equal(fields, want) {
		t.Errorf("Problems fields = %v, want %v", fields, want)
	}
	// Validate still stops at the first, and a refused config is left as sent.
	err := c.Validate()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field != "starting_balance" {
		t.Errorf("Validate = %v, want the starting_balance error", err)
	}
	if c.StreakTiers[0].Name != " A " || c.DailyFeedback != "shout" {
		t.Errorf("a refused config was normalized: %+v", c)
	}
	if errs := economy.DefaultConfig().Problems(); len(errs) != 0 {
		t.Errorf("DefaultConfig().Problems() = %v", errs)
	}
}
