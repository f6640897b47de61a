package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/smarterdev/smarterdev/internal/discordapi"
)

type guildRow struct {
	ID          int64
	Name        string
	Members     int
	Accounts    int64
	Circulation int64
}

type overviewData struct {
	Guilds   []guildRow
	Operator bool
	Warning  string
}

// overview lists the guilds the viewer manages, with member counts and the
// bytes in circulation. Operators also see every guild with data here.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	d := overviewData{Operator: v.Operator}
	var infos []discordapi.GuildInfo
	list, err := h.myGuilds(ctx, v)
	if err == errSignedOut {
		_ = h.endSession(w, r, v)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.log.WarnContext(ctx, "reading guilds from Discord failed", "err", err)
		d.Warning = "Discord did not answer, so the list below may be incomplete."
	}
	seen := map[int64]bool{}
	for _, g := range list {
		if g.CanManage() || v.Operator {
			infos = append(infos, discordapi.GuildInfo{ID: g.IDInt(), Name: g.Name, Members: g.ApproximateMemberCount, Known: true})
			seen[g.IDInt()] = true
		}
	}
	if v.Operator {
		ids, err := h.d.DB.Q().KnownGuilds(ctx)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, id := range ids {
			if !seen[id] {
				infos = append(infos, h.dir.Guild(ctx, id))
			}
		}
	}
	for _, g := range infos {
		t, err := h.d.Economy.Totals(ctx, g.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Guilds = append(d.Guilds, guildRow{ID: g.ID, Name: g.Name, Members: g.Members, Accounts: t.Accounts, Circulation: t.Circulation})
	}
	slices.SortFunc(d.Guilds, func(a, b guildRow) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	h.render(w, r, http.StatusOK, "overview", &page{Title: "Your guilds", Viewer: v, Data: d})
}

// jumpToGuild is the operators' "open a guild by id" form.
func (h *Handler) jumpToGuild(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, err := strconv.ParseInt(strings.TrimSpace(r.URL.Query().Get("id")), 10, 64)
	if err != nil || id <= 0 {
		h.errorPage(w, r, http.StatusNotFound, "Enter a guild id (digits only).")
		return
	}
	http.Redirect(w, r, "/guilds/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}
