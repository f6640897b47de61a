package api

import "context"

type MemberPath struct {
	GuildPath
	User string `path:"user" pattern:"^[0-9]{1,20}$" doc:"User id (a Discord snowflake)" example:"1200000000000000001"`
}

func (p MemberPath) ids() (guild, user int64, err error) {
	if guild, err = snowflake("guild", p.Guild); err != nil {
		return 0, 0, err
	}
	user, err = snowflake("user", p.User)
	return guild, user, err
}

type accountOutput struct {
	Body Account
}

func (s *server) getBalance(ctx context.Context, in *MemberPath) (*accountOutput, error) {
	guild, user, err := in.ids()
	if err != nil {
		return nil, err
	}
	a, err := s.Economy.Balance(ctx, guild, user)
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: accountOf(a)}, nil
}
