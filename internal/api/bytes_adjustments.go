package api

import (
	"context"
	"net/http"
)

type adjustmentInput struct {
	GuildPath
	Body struct {
		UserID string `json:"user_id" pattern:"^[0-9]{1,20}$" doc:"The member to adjust" example:"1200000000000000001"`
		Amount int64  `json:"amount" doc:"Signed: positive grants, negative deducts; never below a zero balance" example:"-50"`
		Reason string `json:"reason" minLength:"1" maxLength:"200" doc:"Shown in the ledger and the audit log" example:"refund for a bug"`
	}
}

type adjustmentOutput struct {
	Status int
	Body   Account
}

func (s *server) createAdjustment(ctx context.Context, in *adjustmentInput) (*adjustmentOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	user, err := snowflake("user_id", in.Body.UserID)
	if err != nil {
		return nil, err
	}
	a, err := s.Economy.Adjust(ctx, guild, member(user), 0, in.Body.Amount, in.Body.Reason)
	if err != nil {
		return nil, err
	}
	return &adjustmentOutput{Status: http.StatusCreated, Body: accountOf(a)}, nil
}
