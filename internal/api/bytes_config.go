package api

import (
	"context"
	"fmt"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
)

type configOutput struct {
	Body Config
}

func (s *server) getConfig(ctx context.Context, in *GuildPath) (*configOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	c, err := s.Economy.Config(ctx, guild)
	if err != nil {
		return nil, err
	}
	return &configOutput{Body: configOf(c)}, nil
}

type putConfigInput struct {
	GuildPath
	Body ConfigBody
}

func (s *server) putConfig(ctx context.Context, in *putConfigInput) (*configOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	b := in.Body
	c := economy.Config{StartingBalance: b.StartingBalance, DailyAmount: b.DailyAmount, MaxTransfer: b.MaxTransfer,
		TransferCooldownHours: b.TransferCooldownHours, SquadMinBalance: b.SquadMinBalance, DailyFeedback: b.DailyFeedback,
		StreakTiers: []economy.StreakTier{}, RoleRewards: []economy.RoleReward{}}
	for _, t := range b.StreakTiers {
		c.StreakTiers = append(c.StreakTiers, economy.StreakTier(t))
	}
	for i, r := range b.RoleRewards {
		role, err := snowflake(fmt.Sprintf("role_rewards[%d].role_id", i), r.RoleID)
		if err != nil {
			return nil, err
		}
		if s.Discord != nil {
			if msg := s.Discord.RewardRoleProblem(ctx, guild, role); msg != "" {
				return nil, apperr.InvalidField(fmt.Sprintf("role_rewards[%d].role_id", i), "%s", msg)
			}
		}
		c.RoleRewards = append(c.RoleRewards, economy.RoleReward{RoleID: role, Threshold: r.Threshold})
	}
	// API keys are not Discord users: the audit log records actor 0 and the
	// key (register puts it in ctx).
	saved, err := s.Economy.UpdateConfig(ctx, guild, 0, c)
	if err != nil {
		return nil, err
	}
	return &configOutput{Body: configOf(saved)}, nil
}
