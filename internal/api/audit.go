package api

import (
	"context"

	"github.com/smarterdev/smarterdev/internal/audit"
)

type auditInput struct {
	GuildPath
	Area   string `query:"area" enum:"bytes,squads,automod,moderation,cases,apikeys" doc:"Only changes to this part: the first segment of action"`
	Actor  string `query:"actor" pattern:"^[0-9]{1,20}$" doc:"Only changes this user made"`
	APIKey string `query:"api_key" pattern:"^[0-9a-f]{12}$" doc:"Only changes made with the API key of this prefix"`
	PageQuery
}

type AuditPage struct {
	Items      []AuditEntry `json:"items" nullable:"false"`
	NextCursor string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

type auditOutput struct {
	Body AuditPage
}

func (s *server) listAudit(ctx context.Context, in *auditInput) (*auditOutput, error) {
	guild, err := snowflake("guild", in.Guild)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	actor, err := optionalSnowflake("actor", in.Actor)
	if err != nil {
		return nil, err
	}
	f := audit.Filter{Area: in.Area, Actor: actor, APIKey: in.APIKey}
	es, err := audit.List(ctx, s.DB, guild, before, in.Limit, f)
	if err != nil {
		return nil, err
	}
	out := &auditOutput{Body: AuditPage{Items: auditOf(es)}}
	if len(es) > 0 {
		out.Body.NextCursor = nextCursor(len(es), in.Limit, es[len(es)-1].ID)
	}
	return out, nil
}
