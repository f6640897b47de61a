package api

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/apikeys"
)

const v1 = "/api/v1/guilds/{guild}"

// routes is every operation of the API, with its scope.
func (s *server) routes() {
	// Bytes.
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-balance", Method: http.MethodGet, Path: v1 + "/bytes/balances/{user}", Tags: []string{"bytes"},
		Summary:     "Read a member's balance",
		Description: "Balance, totals received and sent, daily streak. A member who has never appeared in the guild has no account: 404, and nothing is opened.",
		Errors:      []int{http.StatusNotFound},
	}}, s.getBalance)
	register(s, op{scope: apikeys.Write, idempotent: true, Operation: huma.Operation{
		OperationID: "claim-daily", Method: http.MethodPost, Path: v1 + "/bytes/daily/{user}", Tags: []string{"bytes"},
		Summary:     "Claim today's daily reward for a member",
		Description: "Pays daily_amount times the streak multiplier, once per member, guild and UTC day; opens the member's account on first appearance. A second claim the same day is a 409 with `next_at`, `retry_after_seconds` and `Retry-After`; a claim that keeps colliding with other writes is a 503 with `Retry-After`. The API cannot tell bots from people yet: only send ids of people.",
		Errors:      []int{http.StatusConflict, http.StatusServiceUnavailable},
	}}, s.claimDaily)
	register(s, op{scope: apikeys.Write, idempotent: true, Operation: huma.Operation{
		OperationID: "create-transfer", Method: http.MethodPost, Path: v1 + "/bytes/transfers", Tags: []string{"bytes"}, DefaultStatus: http.StatusCreated,
		Summary:     "Send bytes from one member to another",
		Description: "Atomic; recorded in the ledger (with the ids standing in for names: the API does not fetch Discord names yet). Opens either account on first appearance. Refusals: insufficient funds is a 422 with `balance` and `needed`; the giver's cooldown is a 409 with `retry_after_seconds` and `Retry-After`. The API cannot check that the receiver is not a bot (the bot and dashboard do); clients must not send bot ids.",
		Errors:      []int{http.StatusConflict},
	}}, s.createTransfer)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-transfers", Method: http.MethodGet, Path: v1 + "/bytes/transfers", Tags: []string{"bytes"},
		Summary:     "List transfers, newest first",
		Description: "The guild's transfers (the giver's side of each), or with `user` the transfers that member took part in (their side). Cursor-paginated.",
	}}, s.listTransfers)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-leaderboard", Method: http.MethodGet, Path: v1 + "/bytes/leaderboard", Tags: []string{"bytes"},
		Summary:     "Top members by balance",
		Description: "Ties are broken by user id, so the order is stable. With `user`, also that member's own rank (absent if they have no account).",
	}}, s.getLeaderboard)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-bytes-config", Method: http.MethodGet, Path: v1 + "/bytes/config", Tags: []string{"bytes", "config"},
		Summary:     "Read the guild's economy configuration",
		Description: "The defaults (version 0) until an admin saves one.",
	}}, s.getConfig)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "put-bytes-config", Method: http.MethodPut, Path: v1 + "/bytes/config", Tags: []string{"bytes", "config"},
		Summary:     "Replace the guild's economy configuration",
		Description: "Validated as a whole; every process sees the change within a second. Recorded in the audit log.",
	}}, s.putConfig)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "create-adjustment", Method: http.MethodPost, Path: v1 + "/bytes/adjustments", Tags: []string{"bytes", "admin"}, DefaultStatus: http.StatusCreated,
		Summary:     "Grant or deduct bytes",
		Description: "A positive amount grants, a negative one deducts (never below zero: a 422 with `balance` and `needed`). Recorded in the ledger and the audit log.",
	}}, s.createAdjustment)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-ledger", Method: http.MethodGet, Path: v1 + "/bytes/ledger/{user}", Tags: []string{"bytes"},
		Summary:     "A member's ledger, newest first",
		Description: "Every change of the member's balance with the balance after it. Cursor-paginated. 404 when the member has no account.",
		Errors:      []int{http.StatusNotFound},
	}}, s.listLedger)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-audit", Method: http.MethodGet, Path: v1 + "/audit", Tags: []string{"admin"},
		Summary:     "The guild's audit log, newest first",
		Description: "Who changed what, with the state before and after. Cursor-paginated.",
	}}, s.listAudit)

	// Squads.
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-squads", Method: http.MethodGet, Path: v1 + "/squads", Tags: []string{"squads"},
		Summary: "List the guild's squads", Description: "Every squad, by name.",
	}}, s.listSquads)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "create-squad", Method: http.MethodPost, Path: v1 + "/squads", Tags: []string{"squads"}, DefaultStatus: http.StatusCreated,
		Summary:     "Create a squad",
		Description: "Names and roles are unique per guild: a clash is a 409.",
		Errors:      []int{http.StatusConflict},
	}}, s.createSquad)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-squad", Method: http.MethodGet, Path: v1 + "/squads/{squad}", Tags: []string{"squads"},
		Summary: "Read a squad", Description: "404 when the guild has no such squad.",
		Errors: []int{http.StatusNotFound},
	}}, s.getSquad)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "patch-squad", Method: http.MethodPatch, Path: v1 + "/squads/{squad}", Tags: []string{"squads"},
		Summary:     "Change a squad's settings",
		Description: "Only the fields sent change. A new role moves every member to it (queued role changes). Lowering max_members keeps the members but admits nobody until the squad is below it.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}}, s.patchSquad)
	register(s, op{scope: apikeys.Admin, Operation: huma.Operation{
		OperationID: "delete-squad", Method: http.MethodDelete, Path: v1 + "/squads/{squad}", Tags: []string{"squads"},
		Summary: "Delete a squad", Description: "Its members leave it and lose its role (queued role changes).",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}}, s.deleteSquad)
	register(s, op{scope: apikeys.Write, idempotent: true, Operation: huma.Operation{
		OperationID: "join-squad", Method: http.MethodPost, Path: v1 + "/squads/{squad}/join", Tags: []string{"squads"},
		Summary:     "Put a member into a squad",
		Description: "A first squad is free; switching pays the target's switch_cost, debited in the same transaction as the move. Refusals: already a member (409), squad full, inactive or the guild's minimum balance not met, insufficient funds (422 with `balance`, `needed`, `minimum` or `max_members`). The API cannot tell bots from people yet: only send ids of people.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}}, s.joinSquad)
	register(s, op{scope: apikeys.Write, idempotent: true, Operation: huma.Operation{
		OperationID: "leave-squad", Method: http.MethodPost, Path: v1 + "/squads/leave", Tags: []string{"squads"},
		Summary:     "Take a member out of their squad",
		Description: "Free. A member in no squad is a 409.",
		Errors:      []int{http.StatusConflict},
	}}, s.leaveSquad)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "list-squad-members", Method: http.MethodGet, Path: v1 + "/squads/{squad}/members", Tags: []string{"squads"},
		Summary: "List a squad's members", Description: "By user id; cursor-paginated.",
		Errors: []int{http.StatusNotFound},
	}}, s.listMembers)
	register(s, op{scope: apikeys.Read, Operation: huma.Operation{
		OperationID: "get-member-squad", Method: http.MethodGet, Path: v1 + "/members/{user}/squad", Tags: []string{"squads"},
		Summary: "A member's squad", Description: "404 when the member is in no squad.",
		Errors: []int{http.StatusNotFound},
	}}, s.getMemberSquad)
}
