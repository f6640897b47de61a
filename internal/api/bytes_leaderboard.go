package api

import "context"

type leaderboardInput struct {
	GuildPath
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"10" doc:"How many of the top to return"`
	User  string `query:"user" pattern:"^[0-9]{1,20}$" doc:"Also return this user's own rank"`
}

type Standing struct {
	Rank    int64  `json:"rank" example:"1"`
	UserID  string `json:"user_id" example:"1200000000000000001"`
	Balance int64  `json:"balance" example:"950"`
}

type Leaderboard struct {
	Top    []Standing `json:"top" nullable:"false"`
	Caller *Standing  `json:"caller,omitempty" doc:"The user's own standing, when user was given and has an account"`
}

type leaderboardOutput struct {
	Body Leaderboard
}

func (s *server) getLeaderboard(ctx context.Context, in *leaderboardInput) (*leaderboardOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	user, err := optionalSnowflake("user", in.User)
	if err != nil {
		return nil, err
	}
	lb, err := s.Economy.Heap(ctx, guild, in.Limit, user)
	if err != nil {
		return nil, err
	}
	out := Leaderboard{Top: make([]Standing, 0, len(lb.Top))}
	for _, st := range lb.Top {
		out.Top = append(out.Top, Standing{Rank: st.Rank, UserID: idString(st.UserID), Balance: st.Balance})
	}
	if lb.Caller != nil {
		out.Caller = &Standing{Rank: lb.Caller.Rank, UserID: idString(lb.Caller.UserID), Balance: lb.Caller.Balance}
	}
	return &leaderboardOutput{Body: out}, nil
}
