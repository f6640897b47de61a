package economy

import (
	"fmt"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
)

// InsufficientFundsError: the giver's balance does not cover the amount.
type InsufficientFundsError struct {
	Balance int64
	Needed  int64
}

func (e *InsufficientFundsError) Error() string {
	return fmt.Sprintf("insufficient funds: the balance is %d bytes and %d are needed", e.Balance, e.Needed)
}
func (e *InsufficientFundsError) Code() apperr.Code { return apperr.Refused }

// CooldownError: the giver sent bytes too recently.
type CooldownError struct {
	Remaining time.Duration
}

func (e *CooldownError) Error() string {
	return fmt.Sprintf("transfer cooldown: try again in %s", HumanDuration(e.Remaining))
}
func (e *CooldownError) Code() apperr.Code { return apperr.Conflict }

// AlreadyClaimedError: today's reward was already paid.
type AlreadyClaimedError struct {
	NextAt    time.Time
	Remaining time.Duration
}

func (e *AlreadyClaimedError) Error() string {
	return fmt.Sprintf("already claimed today: the next reward is available in %s (at 00:00 UTC)", HumanDuration(e.Remaining))
}
func (e *AlreadyClaimedError) Code() apperr.Code { return apperr.Conflict }

// NoAccountError: the member has no account in this guild yet.
type NoAccountError struct {
	GuildID, UserID int64
}

func (e *NoAccountError) Error() string {
	return fmt.Sprintf("member %d has no bytes account in guild %d yet", e.UserID, e.GuildID)
}
func (e *NoAccountError) Code() apperr.Code { return apperr.NotFound }

// HumanDuration renders a wait the way a person says it: "3h 4m", "42s".
func HumanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}
