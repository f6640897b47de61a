package api

import (
	"context"
	"strconv"

	"github.com/smarterdev/smarterdev/internal/economy"
)

type dailyInput struct {
	MemberPath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes a retry of this claim safe; see the API description"`
}

type Daily struct {
	Day        string  `json:"day" doc:"UTC day the reward is for" example:"2026-05-02"`
	Streak     int     `json:"streak" example:"8"`
	Multiplier int64   `json:"multiplier" example:"2"`
	Amount     int64   `json:"amount" example:"20"`
	Tier       string  `json:"tier,omitempty" doc:"The streak tier's name, if any" example:"CHAR"`
	Account    Account `json:"account"`
}

type dailyOutput struct {
	Body Daily
}

// member names a party the way the services want it. The API knows no
// Discord names yet, so the id stands in for the name.
func member(id int64) economy.Member {
	return economy.Member{ID: id, Name: strconv.FormatInt(id, 10)}
}

func (s *server) claimDaily(ctx context.Context, in *dailyInput) (*dailyOutput, error) {
	guild, user, err := in.ids()
	if err != nil {
		return nil, err
	}
	d, err := s.Economy.ClaimDaily(ctx, guild, member(user))
	if err != nil {
		return nil, err
	}
	return &dailyOutput{Body: Daily{Day: string(d.Day), Streak: d.Streak, Multiplier: d.Multiplier, Amount: d.Amount,
		Tier: d.Tier, Account: accountOf(d.Account)}}, nil
}
