package api

import (
	"context"
	"net/http"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/squads"
)

type SquadPath struct {
	GuildPath
	Squad string `path:"squad" pattern:"^[0-9]{1,20}$" doc:"Squad id" example:"7"`
}

func (p SquadPath) ids() (guild, squad int64, err error) {
	if guild, err = snowflake("guild", p.Guild); err != nil {
		return 0, 0, err
	}
	squad, err = snowflake("squad", p.Squad)
	return guild, squad, err
}

type squadListOutput struct {
	Body struct {
		Items []Squad `json:"items" nullable:"false"`
	}
}

func (s *server) listSquads(ctx context.Context, in *GuildPath) (*squadListOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	list, err := s.Squads.List(ctx, guild)
	if err != nil {
		return nil, err
	}
	out := &squadListOutput{}
	out.Body.Items = make([]Squad, 0, len(list))
	for _, sq := range list {
		out.Body.Items = append(out.Body.Items, squadOf(sq))
	}
	return out, nil
}

// SquadFields are a squad's settings; absent fields keep their current value
// on PATCH and take the default on POST.
type SquadFields struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"100" example:"Gophers"`
	Description *string `json:"description,omitempty" maxLength:"500" example:"We write Go."`
	RoleID      *string `json:"role_id,omitempty" pattern:"^[0-9]{1,20}$" doc:"The Discord role members get; unique per guild" example:"1300000000000000001"`
	SwitchCost  *int64  `json:"switch_cost,omitempty" minimum:"0" doc:"What switching into this squad costs; default 50" example:"50"`
	MaxMembers  *int    `json:"max_members,omitempty" minimum:"0" doc:"0: no limit (default)" example:"25"`
	Active      *bool   `json:"active,omitempty" doc:"Whether it accepts members; default true" example:"true"`
}

// apply overlays the present fields on spec.
func (f SquadFields) apply(spec *squads.Spec) error {
	if f.Name != nil {
		spec.Name = *f.Name
	}
	if f.Description != nil {
		spec.Description = *f.Description
	}
	if f.RoleID != nil {
		role, err := snowflake("role_id", *f.RoleID)
		if err != nil {
			return err
		}
		spec.RoleID = role
	}
	if f.SwitchCost != nil {
		spec.SwitchCost = *f.SwitchCost
	}
	if f.MaxMembers != nil {
		spec.MaxMembers = *f.MaxMembers
	}
	if f.Active != nil {
		spec.Active = *f.Active
	}
	return nil
}

type createSquadInput struct {
	GuildPath
	Body struct {
		Name        string  `json:"name" minLength:"1" maxLength:"100" example:"Gophers"`
		RoleID      string  `json:"role_id" pattern:"^[0-9]{1,20}$" doc:"The Discord role members get; unique per guild" example:"1300000000000000001"`
		Description *string `json:"description,omitempty" maxLength:"500" example:"We write Go."`
		SwitchCost  *int64  `json:"switch_cost,omitempty" minimum:"0" doc:"What switching into this squad costs; default 50" example:"50"`
		MaxMembers  *int    `json:"max_members,omitempty" minimum:"0" doc:"0: no limit (default)" example:"25"`
		Active      *bool   `json:"active,omitempty" doc:"Whether it accepts members; default true" example:"true"`
	}
}

type squadOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     Squad
}

func (s *server) createSquad(ctx context.Context, in *createSquadInput) (*squadOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	b := in.Body
	spec := squads.NewSpec(b.Name, 0)
	if err := (SquadFields{RoleID: &b.RoleID, Description: b.Description, SwitchCost: b.SwitchCost,
		MaxMembers: b.MaxMembers, Active: b.Active}).apply(&spec); err != nil {
		return nil, err
	}
	if err := s.checkSquadRole(ctx, guild, spec.RoleID); err != nil {
		return nil, err
	}
	sq, err := s.Squads.Create(ctx, guild, 0, spec)
	if err != nil {
		return nil, err
	}
	out := squadOf(sq)
	return &squadOutput{Status: http.StatusCreated, Location: "/api/v1/guilds/" + in.Guild + "/squads/" + out.ID, Body: out}, nil
}

func (s *server) getSquad(ctx context.Context, in *SquadPath) (*squadOutput, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	sq, err := s.Squads.Get(ctx, guild, id)
	if err != nil {
		return nil, err
	}
	return &squadOutput{Status: http.StatusOK, Body: squadOf(sq)}, nil
}

type patchSquadInput struct {
	SquadPath
	Body SquadFields
}

// patchSquad reads, overlays and writes; two admins patching the same squad
// at once each win for the fields they sent, the last one for the rest.
func (s *server) patchSquad(ctx context.Context, in *patchSquadInput) (*squadOutput, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	cur, err := s.Squads.Get(ctx, guild, id)
	if err != nil {
		return nil, err
	}
	spec := squads.Spec{Name: cur.Name, Description: cur.Description, RoleID: cur.RoleID, SwitchCost: cur.SwitchCost,
		MaxMembers: cur.MaxMembers, Active: cur.Active}
	if err := in.Body.apply(&spec); err != nil {
		return nil, err
	}
	if spec.RoleID != cur.RoleID {
		if err := s.checkSquadRole(ctx, guild, spec.RoleID); err != nil {
			return nil, err
		}
	}
	sq, err := s.Squads.Update(ctx, guild, 0, id, spec)
	if err != nil {
		return nil, err
	}
	return &squadOutput{Status: http.StatusOK, Body: squadOf(sq)}, nil
}

type noContent struct {
	Status int
}

func (s *server) deleteSquad(ctx context.Context, in *SquadPath) (*noContent, error) {
	guild, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.Squads.Delete(ctx, guild, 0, id); err != nil {
		return nil, err
	}
	return &noContent{Status: http.StatusNoContent}, nil
}

// checkSquadRole refuses a role that would make whoever joins the squad a
// moderator, or that Discord does not let the bot give.
func (s *server) checkSquadRole(ctx context.Context, guild, role int64) error {
	if s.Discord == nil {
		return nil
	}
	if msg := s.Discord.SquadRoleProblem(ctx, guild, role); msg != "" {
		return apperr.InvalidField("role_id", "%s", msg)
	}
	return nil
}
