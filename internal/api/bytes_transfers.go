package api

import (
	"context"
	"net/http"

	"github.com/smarterdev/smarterdev/internal/economy"
)

type transferInput struct {
	GuildPath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes a retry of this transfer safe; see the API description"`
	Body           struct {
		GiverID    string `json:"giver_id" pattern:"^[0-9]{1,20}$" doc:"Who pays" example:"1200000000000000001"`
		ReceiverID string `json:"receiver_id" pattern:"^[0-9]{1,20}$" doc:"Who receives; not the giver" example:"1200000000000000002"`
		Amount     int64  `json:"amount" minimum:"1" doc:"Bytes, at most the guild's max_transfer" example:"25"`
		Reason     string `json:"reason,omitempty" maxLength:"200" required:"false" example:"thanks for the review"`
	}
}

type Transfer struct {
	ID          int64        `json:"id" doc:"Ledger id of the giver's side" example:"42"`
	Amount      int64        `json:"amount" example:"25"`
	Reason      string       `json:"reason" example:"thanks for the review"`
	Giver       Account      `json:"giver"`
	Receiver    Account      `json:"receiver"`
	RolesEarned []RoleReward `json:"roles_earned" nullable:"false" doc:"Role rewards the receiver reached with this transfer; their grants are queued"`
}

type transferOutput struct {
	Status int
	Body   Transfer
}

func (s *server) createTransfer(ctx context.Context, in *transferInput) (*transferOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	giver, err := snowflake("giver_id", in.Body.GiverID)
	if err != nil {
		return nil, err
	}
	receiver, err := snowflake("receiver_id", in.Body.ReceiverID)
	if err != nil {
		return nil, err
	}
	r, err := s.Economy.Transfer(ctx, guild, economy.TransferRequest{
		Giver: member(giver), Receiver: member(receiver), Amount: in.Body.Amount, Reason: in.Body.Reason,
	})
	if err != nil {
		return nil, err
	}
	out := Transfer{ID: r.ID, Amount: r.Amount, Reason: r.Reason, Giver: accountOf(r.Giver), Receiver: accountOf(r.Receiver),
		RolesEarned: []RoleReward{}}
	for _, role := range r.RolesEarned {
		out.RolesEarned = append(out.RolesEarned, RoleReward{RoleID: idString(role.RoleID), Threshold: role.Threshold})
	}
	return &transferOutput{Status: http.StatusCreated, Body: out}, nil
}

type PageQuery struct {
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page; absent for the first page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"25" doc:"Rows per page"`
}

type transfersInput struct {
	GuildPath
	User string `query:"user" pattern:"^[0-9]{1,20}$" doc:"Only transfers this user took part in (their side of each)"`
	PageQuery
}

type EntryPage struct {
	Items      []Entry `json:"items" nullable:"false"`
	NextCursor string  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

type entryPageOutput struct {
	Body EntryPage
}

func entryPage(es []economy.Entry, limit int) *entryPageOutput {
	out := &entryPageOutput{Body: EntryPage{Items: entriesOf(es)}}
	if len(es) > 0 {
		out.Body.NextCursor = nextCursor(len(es), limit, es[len(es)-1].ID)
	}
	return out
}

func (s *server) listTransfers(ctx context.Context, in *transfersInput) (*entryPageOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	user, err := optionalSnowflake("user", in.User)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	es, err := s.Economy.Transfers(ctx, guild, user, economy.Page{Before: before, Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	return entryPage(es, in.Limit), nil
}
