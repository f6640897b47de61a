package api

import (
	"context"
	"time"
)

type userBody struct {
	UserID string `json:"user_id" pattern:"^[0-9]{1,20}$" doc:"The member" example:"1200000000000000001"`
}

type joinInput struct {
	SquadPath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes a retry of this join safe; see the API description"`
	Body           userBody
}

type Join struct {
	Squad   Squad   `json:"squad"`
	From    *Squad  `json:"from,omitempty" doc:"The squad left, when switching"`
	Cost    int64   `json:"cost" doc:"Bytes paid: 0 for a first squad, the target's switch_cost when switching" example:"50"`
	Account Account `json:"account"`
}

type joinOutput struct {
	Body Join
}

func (s *server) joinSquad(ctx context.Context, in *joinInput) (*joinOutput, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	user, err := snowflake("user_id", in.Body.UserID)
	if err != nil {
		return nil, err
	}
	r, err := s.Squads.Join(ctx, guild, member(user), id)
	if err != nil {
		return nil, err
	}
	out := Join{Squad: squadOf(r.Squad), Cost: r.Cost, Account: accountOf(r.Account)}
	if r.From != nil {
		from := squadOf(*r.From)
		out.From = &from
	}
	return &joinOutput{Body: out}, nil
}

type leaveInput struct {
	GuildPath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes a retry of this leave safe; see the API description"`
	Body           userBody
}

type leaveOutput struct {
	Body struct {
		Left Squad `json:"left" doc:"The squad the member left"`
	}
}

func (s *server) leaveSquad(ctx context.Context, in *leaveInput) (*leaveOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	user, err := snowflake("user_id", in.Body.UserID)
	if err != nil {
		return nil, err
	}
	left, err := s.Squads.Leave(ctx, guild, member(user))
	if err != nil {
		return nil, err
	}
	out := &leaveOutput{}
	out.Body.Left = squadOf(left)
	return out, nil
}

type membersInput struct {
	SquadPath
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page; absent for the first page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Members per page"`
}

type Member struct {
	UserID   string    `json:"user_id" example:"1200000000000000001"`
	JoinedAt time.Time `json:"joined_at"`
}

type membersOutput struct {
	Body struct {
		Squad      Squad    `json:"squad"`
		Items      []Member `json:"items" nullable:"false"`
		NextCursor string   `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
	}
}

func (s *server) listMembers(ctx context.Context, in *membersInput) (*membersOutput, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	ms, err := s.Squads.Members(ctx, guild, id, after, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &membersOutput{}
	out.Body.Items = make([]Member, 0, len(ms))
	if len(ms) == 0 {
		sq, err := s.Squads.Get(ctx, guild, id)
		if err != nil {
			return nil, err
		}
		out.Body.Squad = squadOf(sq)
	} else {
		out.Body.Squad = squadOf(ms[0].Squad)
		out.Body.NextCursor = nextCursor(len(ms), in.Limit, ms[len(ms)-1].UserID)
	}
	for _, m := range ms {
		out.Body.Items = append(out.Body.Items, Member{UserID: idString(m.UserID), JoinedAt: m.JoinedAt.UTC()})
	}
	return out, nil
}

type membershipOutput struct {
	Body Membership
}

func (s *server) getMemberSquad(ctx context.Context, in *MemberPath) (*membershipOutput, error) {
	guild, user, err := in.ids()
	if err != nil {
		return nil, err
	}
	m, err := s.Squads.Of(ctx, guild, user)
	if err != nil {
		return nil, err
	}
	return &membershipOutput{Body: membershipOf(m)}, nil
}
