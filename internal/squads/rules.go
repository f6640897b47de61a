// Package squads is the guild's teams: at most one per member, joining is
// free, switching costs the target squad's switch_cost (paid in the same
// transaction as the move), leaving is free. rules.go holds the plain rules;
// service.go does the I/O.
package squads

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
)

// Limits of a squad's fields.
const (
	MaxNameLength        = 100
	MaxDescriptionLength = 500
	MaxMembersLimit      = 1_000_000
	DefaultSwitchCost    = 50
)

// Squad is a team with its Discord role.
type Squad struct {
	ID          int64     `json:"id,string"`
	GuildID     int64     `json:"guild_id,string"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	RoleID      int64     `json:"role_id,string"`
	SwitchCost  int64     `json:"switch_cost"`
	MaxMembers  int       `json:"max_members,omitempty"` // 0: no limit
	Active      bool      `json:"active"`
	Members     int       `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Full reports whether nobody else can join.
func (s Squad) Full() bool { return s.MaxMembers > 0 && s.Members >= s.MaxMembers }

// Spec is what an admin sets when creating or editing a squad.
type Spec struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	RoleID      int64  `json:"role_id,string"`
	SwitchCost  int64  `json:"switch_cost"`
	MaxMembers  int    `json:"max_members"` // 0: no limit
	Active      bool   `json:"active"`
}

// NewSpec returns a Spec with the defaults of a new squad.
func NewSpec(name string, roleID int64) Spec {
	return Spec{Name: name, RoleID: roleID, SwitchCost: DefaultSwitchCost, Active: true}
}

// Validate trims the text fields and reports the first invalid one.
func (s *Spec) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	s.Description = strings.TrimSpace(s.Description)
	if errs := s.check(false); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Problems reports every invalid field at once, for a form that should say
// all that is wrong in one answer. It changes nothing.
func (s Spec) Problems() []error {
	s.Name = strings.TrimSpace(s.Name)
	s.Description = strings.TrimSpace(s.Description)
	return s.check(true)
}

// check returns the invalid fields of a trimmed spec, only the first unless all.
func (s Spec) check(all bool) []error {
	var errs []error
	add := func(err error) bool {
		errs = append(errs, err)
		return !all
	}
	if s.Name == "" {
		if add(apperr.InvalidField("name", "a squad needs a name")) {
			return errs
		}
	} else if n := utf8.RuneCountInString(s.Name); n > MaxNameLength {
		if add(apperr.InvalidField("name", "at most %d characters, got %d", MaxNameLength, n)) {
			return errs
		}
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxDescriptionLength {
		if add(apperr.InvalidField("description", "at most %d characters, got %d", MaxDescriptionLength, n)) {
			return errs
		}
	}
	if s.RoleID <= 0 {
		if add(apperr.InvalidField("role_id", "must be a Discord role id (a positive snowflake)")) {
			return errs
		}
	}
	if s.SwitchCost < 0 || s.SwitchCost > economy.MaxAmount {
		if add(apperr.InvalidField("switch_cost", "must be between 0 and %d bytes, got %d", int64(economy.MaxAmount), s.SwitchCost)) {
			return errs
		}
	}
	if s.MaxMembers < 0 || s.MaxMembers > MaxMembersLimit {
		add(apperr.InvalidField("max_members", "must be between 1 and %d, or 0 for no limit; got %d", MaxMembersLimit, s.MaxMembers))
	}
	return errs
}

// Cost is what moving into target costs a member currently in squad current
// (0: in no squad). Joining a first squad is free.
func Cost(current int64, target Squad) int64 {
	if current == 0 {
		return 0
	}
	return target.SwitchCost
}

// CheckJoin applies the rules that need no further I/O.
func CheckJoin(current int64, target Squad, minBalance, balance int64) error {
	if current == target.ID {
		return &AlreadyMemberError{Squad: target.Name}
	}
	if !target.Active {
		return apperr.New(apperr.Refused, "squad %q is not accepting members right now", target.Name)
	}
	if balance < minBalance {
		return &NotEligibleError{Balance: balance, Minimum: minBalance}
	}
	if target.Full() {
		return &FullError{Squad: target.Name, Max: target.MaxMembers}
	}
	return nil
}

// FullError: the squad has reached max_members.
type FullError struct {
	Squad string
	Max   int
}

func (e *FullError) Error() string {
	return fmt.Sprintf("squad %q is full (%d members); pick another squad or ask an admin to raise the limit", e.Squad, e.Max)
}
func (e *FullError) Code() apperr.Code { return apperr.Refused }

// NotEligibleError: the guild requires a minimum balance for squads.
type NotEligibleError struct {
	Balance, Minimum int64
}

func (e *NotEligibleError) Error() string {
	return fmt.Sprintf("squads need a balance of at least %d bytes; you have %d", e.Minimum, e.Balance)
}
func (e *NotEligibleError) Code() apperr.Code { return apperr.Refused }

// AlreadyMemberError: the member is already in that squad.
type AlreadyMemberError struct{ Squad string }

func (e *AlreadyMemberError) Error() string {
	return fmt.Sprintf("you are already in squad %q", e.Squad)
}
func (e *AlreadyMemberError) Code() apperr.Code { return apperr.Conflict }

// NotInSquadError: leaving without being in a squad.
type NotInSquadError struct{}

func (e *NotInSquadError) Error() string     { return "you are not in a squad" }
func (e *NotInSquadError) Code() apperr.Code { return apperr.Conflict }

// NotFoundError: no such squad in this guild.
type NotFoundError struct{ ID int64 }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("squad %d does not exist in this guild", e.ID)
}
func (e *NotFoundError) Code() apperr.Code { return apperr.NotFound }
