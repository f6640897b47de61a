package api

import (
	"context"

	"github.com/smarterdev/smarterdev/internal/economy"
)

type ledgerInput struct {
	MemberPath
	PageQuery
}

func (s *server) listLedger(ctx context.Context, in *ledgerInput) (*entryPageOutput, error) {
	guild, user, err := in.ids()
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	// A member without an account is a 404, not an empty ledger.
	if _, err := s.Economy.Balance(ctx, guild, user); err != nil {
		return nil, err
	}
	es, err := s.Economy.Ledger(ctx, guild, user, economy.Page{Before: before, Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	return entryPage(es, in.Limit), nil
}
