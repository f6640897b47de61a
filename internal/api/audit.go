package api

import (
	"context"

	"github.com/smarterdev/smarterdev/internal/audit"
)

type auditInput struct {
	GuildPath
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
	es, err := audit.List(ctx, s.DB, guild, before, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &auditOutput{Body: AuditPage{Items: auditOf(es)}}
	if len(es) > 0 {
		out.Body.NextCursor = nextCursor(len(es), in.Limit, es[len(es)-1].ID)
	}
	return out, nil
}
