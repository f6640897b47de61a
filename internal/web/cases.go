package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

const casesPerPage = 25

// caseRow is a case with its people named.
type caseRow struct {
	moderation.Case
	Target    discordapi.Profile
	Moderator discordapi.Profile // zero for the bot
	Resolver  discordapi.Profile
}

// Bot reports whether the bot opened the case.
func (c caseRow) Bot() bool { return c.ModeratorID == 0 }

// DurationText is the timeout as people read it.
func (c caseRow) DurationText() string {
	if c.Duration <= 0 {
		return ""
	}
	return (time.Duration(c.Duration) * time.Second).String()
}

type casesData struct {
	Filter *form
	Rows   []caseRow
	Next   string // path of the next page; "" on the last
	Paged  bool
	Case   *caseRow
	Form   *form // the resolve form
}

// caseActions and caseStates fill the filter's selects.
var (
	caseActions = []string{"warn", "timeout", "kick", "ban", "delete", "unban", "untimeout"}
	caseStates  = []string{moderation.StateOpen, moderation.StateResolved, moderation.StateReversed}
)

// nameCases names targets, moderators and resolvers through the directory;
// a member Discord does not know keeps the name stored with the case, else
// the id.
func (h *Handler) nameCases(r *http.Request, g *guildCtx, cs []moderation.Case) []caseRow {
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.TargetID)
		if c.ModeratorID > 0 {
			ids = append(ids, c.ModeratorID)
		}
		if c.ResolvedBy > 0 {
			ids = append(ids, c.ResolvedBy)
		}
	}
	names := h.dir.Members(r.Context(), g.ID, ids)
	out := make([]caseRow, len(cs))
	for i, c := range cs {
		row := caseRow{Case: c, Target: names[c.TargetID], Moderator: names[c.ModeratorID], Resolver: names[c.ResolvedBy]}
		if row.Target.Name == "" {
			row.Target = discordapi.Profile{ID: c.TargetID, Name: strconv.FormatInt(c.TargetID, 10)}
		}
		if !row.Target.Known && c.TargetName != "" {
			row.Target.Name = c.TargetName
		}
		out[i] = row
	}
	return out
}

// caseList pages through the guild's cases, newest first, with filters
// by member, action, rule name and state; the cursor is a case number.
func (h *Handler) caseList(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	q := r.URL.Query()
	f := newForm(url.Values{"member": {q.Get("member")}, "action": {q.Get("action")}, "rule": {q.Get("rule")}, "state": {q.Get("state")}})
	flt := moderation.Filter{TargetID: f.idField("member"), Action: f.Get("action"), Rule: strings.TrimSpace(f.Get("rule")), State: f.Get("state"), Limit: casesPerPage + 1}
	before, err := strconv.ParseInt(q.Get("before"), 10, 64)
	if q.Get("before") != "" && (err != nil || before <= 0) {
		h.errorPage(w, r, http.StatusBadRequest, "That page link is not valid.")
		return
	}
	flt.Before = before
	d := casesData{Filter: f, Paged: before > 0}
	status := http.StatusOK
	if !f.Has() {
		cs, err := h.d.Moderation.Cases(r.Context(), g.ID, flt)
		if err != nil {
			if !f.domain(err, nil) {
				h.fail(w, r, err)
				return
			}
		}
		if len(cs) > casesPerPage {
			cs = cs[:casesPerPage]
			next := url.Values{}
			for _, k := range []string{"member", "action", "rule", "state"} {
				if v := f.Get(k); v != "" {
					next.Set(k, v)
				}
			}
			next.Set("before", strconv.FormatInt(cs[len(cs)-1].Number, 10))
			d.Next = guildPath(g, "/cases?"+next.Encode())
		}
		d.Rows = h.nameCases(r, g, cs)
	}
	if f.Has() {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "cases", &page{Title: "Cases", Nav: "cases", Guild: g, Data: d})
}

func (h *Handler) loadCase(w http.ResponseWriter, r *http.Request, g *guildCtx) (*caseRow, bool) {
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	if err != nil || n <= 0 {
		h.errorPage(w, r, http.StatusNotFound, "There is no such case.")
		return nil, false
	}
	c, err := h.d.Moderation.Case(r.Context(), g.ID, n)
	if apperr.Is(err, apperr.NotFound) {
		h.errorPage(w, r, http.StatusNotFound, "There is no case #"+strconv.FormatInt(n, 10)+" in this guild.")
		return nil, false
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	row := h.nameCases(r, g, []moderation.Case{c})[0]
	return &row, true
}

func (h *Handler) casePage(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	c, ok := h.loadCase(w, r, g)
	if !ok {
		return
	}
	d := casesData{Case: c, Form: newForm(url.Values{})}
	h.render(w, r, http.StatusOK, "case", &page{Title: "Case #" + strconv.FormatInt(c.Number, 10), Nav: "cases", Guild: g, Data: d})
}

// caseResolve closes an open case with a note; "reverse" also lifts a ban or
// a timeout on Discord.
func (h *Handler) caseResolve(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	c, ok := h.loadCase(w, r, g)
	if !ok {
		return
	}
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	reverse := f.Get("outcome") == "reverse"
	_, err := h.d.Moderation.Resolve(r.Context(), g.ID, c.Number, g.UserID, strings.TrimSpace(f.Get("note")), reverse)
	if err == nil {
		msg := "Case #" + strconv.FormatInt(c.Number, 10) + " resolved."
		if reverse {
			msg = "Case #" + strconv.FormatInt(c.Number, 10) + " reversed."
		}
		h.flash(w, r, msg)
		http.Redirect(w, r, guildPath(g, "/cases/"+strconv.FormatInt(c.Number, 10)), http.StatusSeeOther)
		return
	}
	if !ruleFormError(f, err) {
		h.fail(w, r, err)
		return
	}
	d := casesData{Case: c, Form: f}
	h.render(w, r, http.StatusUnprocessableEntity, "case", &page{Title: "Case #" + strconv.FormatInt(c.Number, 10), Nav: "cases", Guild: g, Data: d})
}
