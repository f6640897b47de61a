package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

const membersPerPage = 25

type memberRow struct {
	Rank          int
	Profile       discordapi.Profile
	UserID        int64
	Balance       int64
	TotalReceived int64
	TotalSent     int64
	Streak        int32
	LastDaily     string
}

type membersData struct {
	Rows  []memberRow
	Next  string // path of the next page, "" on the last
	First bool
}

// memberList pages through accounts by balance with a keyset cursor
// ("after=<balance>.<user>"), so pages stay stable while balances move.
func (h *Handler) memberList(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	ctx := r.Context()
	afterBal, afterUser := int64(1<<63-1), int64(0)
	rank, _ := strconv.Atoi(r.URL.Query().Get("rank"))
	if a := r.URL.Query().Get("after"); a != "" {
		b, u, ok := strings.Cut(a, ".")
		bn, err1 := strconv.ParseInt(b, 10, 64)
		un, err2 := strconv.ParseInt(u, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			h.errorPage(w, r, http.StatusBadRequest, "That page link is not valid.")
			return
		}
		afterBal, afterUser = bn, un
	}
	rows, err := h.d.DB.Q().AccountsByBalance(ctx, sqldb.AccountsByBalanceParams{
		GuildID: g.ID, AfterBalance: afterBal, AfterUser: afterUser, Lim: membersPerPage + 1})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := membersData{First: r.URL.Query().Get("after") == ""}
	more := len(rows) > membersPerPage
	rows = rows[:min(len(rows), membersPerPage)]
	ids := make([]int64, len(rows))
	for i, a := range rows {
		ids[i] = a.UserID
	}
	profiles := h.dir.Members(ctx, g.ID, ids)
	for i, a := range rows {
		d.Rows = append(d.Rows, memberRow{Rank: rank + i + 1, Profile: profiles[a.UserID], UserID: a.UserID, Balance: a.Balance,
			TotalReceived: a.TotalReceived, TotalSent: a.TotalSent, Streak: a.Streak, LastDaily: a.LastDaily.String})
	}
	if more {
		last := rows[len(rows)-1]
		d.Next = guildPath(g, "/members?") + url.Values{"after": {strconv.FormatInt(last.Balance, 10) + "." + strconv.FormatInt(last.UserID, 10)},
			"rank": {strconv.Itoa(rank + len(rows))}}.Encode()
	}
	h.render(w, r, http.StatusOK, "members", &page{Title: "Members", Nav: "members", Guild: g, Data: d})
}

type memberData struct {
	Profile   discordapi.Profile
	Account   economy.Account
	Squad     *squads.Membership
	Ledger    []economy.Entry
	Names     map[int64]discordapi.Profile
	Next      int64 // cursor of the next ledger page, 0 on the last
	Tier      string
	Paged     bool
	Received  int64
	UserID    int64
	Cases     []caseRow // the latest cases about the member
	MoreCases bool
	NoAccount bool // no bytes account, shown for the cases
}

const ledgerPerPage = 25

// memberCases is how many of a member's cases the profile shows.
const memberCases = 10

func (h *Handler) memberProfile(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	ctx := r.Context()
	user, err := strconv.ParseInt(r.PathValue("user"), 10, 64)
	if err != nil || user <= 0 {
		h.errorPage(w, r, http.StatusNotFound, "There is no member with that id.")
		return
	}
	cases, err := h.d.Moderation.Cases(ctx, g.ID, moderation.Filter{TargetID: user, Limit: memberCases + 1})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	acc, err := h.d.Economy.Balance(ctx, g.ID, user)
	if apperr.Is(err, apperr.NotFound) {
		if len(cases) == 0 {
			h.errorPage(w, r, http.StatusNotFound, "This member has no bytes account and no cases in this guild.")
			return
		}
		d := memberData{Profile: h.dir.Member(ctx, g.ID, user), UserID: user, NoAccount: true}
		d.Cases, d.MoreCases = h.nameCases(r, g, cases[:min(len(cases), memberCases)]), len(cases) > memberCases
		h.render(w, r, http.StatusOK, "member", &page{Title: d.Profile.Name, Nav: "members", Guild: g, Data: d})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	ledger, err := h.d.Economy.Ledger(ctx, g.ID, user, economy.Page{Before: before, Limit: ledgerPerPage + 1})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Invalid {
			h.errorPage(w, r, http.StatusBadRequest, "That page link is not valid.")
			return
		}
		h.fail(w, r, err)
		return
	}
	d := memberData{Account: acc, Profile: h.dir.Member(ctx, g.ID, user), Paged: before > 0, UserID: user}
	d.Cases, d.MoreCases = h.nameCases(r, g, cases[:min(len(cases), memberCases)]), len(cases) > memberCases
	if len(ledger) > ledgerPerPage {
		ledger = ledger[:ledgerPerPage]
		d.Next = ledger[len(ledger)-1].ID
	}
	d.Ledger = ledger
	ids := []int64{}
	for _, e := range ledger {
		if e.CounterpartyID > 0 {
			ids = append(ids, e.CounterpartyID)
		}
		if e.ActorID > 0 {
			ids = append(ids, e.ActorID)
		}
	}
	d.Names = h.dir.Members(ctx, g.ID, ids)
	if m, err := h.d.Squads.Of(ctx, g.ID, user); err == nil {
		d.Squad = &m
	} else if !apperr.Is(err, apperr.NotFound) {
		h.fail(w, r, err)
		return
	}
	if cfg, err := h.d.Economy.Config(ctx, g.ID); err == nil {
		if t, ok := cfg.Tier(acc.Streak); ok {
			d.Tier = t.Name
		}
	}
	h.render(w, r, http.StatusOK, "member", &page{Title: d.Profile.Name, Nav: "members", Guild: g, Data: d})
}
