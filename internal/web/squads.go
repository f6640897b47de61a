package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/squads"
)

type squadRow struct {
	squads.Squad
	RoleName    string
	RoleProblem string // why the role should not be a squad's, e.g. it gained staff permissions since
}

type squadsData struct {
	Squads []squadRow
	Form   *form
	Roles  []discordapi.Role
	Squad  *squads.Squad // the one edited or deleted
}

func squadValues(s squads.Spec) url.Values {
	v := url.Values{}
	v.Set("name", s.Name)
	v.Set("description", s.Description)
	if s.RoleID > 0 {
		v.Set("role_id", strconv.FormatInt(s.RoleID, 10))
	}
	v.Set("switch_cost", strconv.FormatInt(s.SwitchCost, 10))
	if s.MaxMembers > 0 {
		v.Set("max_members", strconv.Itoa(s.MaxMembers))
	}
	if s.Active {
		v.Set("active", "on")
	}
	return v
}

func specOf(f *form) squads.Spec {
	return squads.Spec{
		Name: f.Get("name"), Description: f.Get("description"), RoleID: f.idField("role_id"),
		SwitchCost: f.int64Field("switch_cost", squads.DefaultSwitchCost), MaxMembers: int(f.int64Field("max_members", 0)),
		Active: f.Get("active") != "",
	}
}

func (h *Handler) squadList(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	h.renderSquads(w, r, g, http.StatusOK, newForm(squadValues(squads.NewSpec("", 0))))
}

func (h *Handler) renderSquads(w http.ResponseWriter, r *http.Request, g *guildCtx, status int, f *form) {
	ctx := r.Context()
	list, err := h.d.Squads.List(ctx, g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := squadsData{Form: f, Roles: grantableRoles(h.dir.Roles(ctx, g.ID), f.Get("role_id"))}
	for _, s := range list {
		d.Squads = append(d.Squads, squadRow{Squad: s, RoleName: h.dir.RoleName(ctx, g.ID, s.RoleID),
			RoleProblem: h.dir.SquadRoleProblem(ctx, g.ID, s.RoleID)})
	}
	h.render(w, r, status, "squads", &page{Title: "Squads", Nav: "squads", Guild: g, Data: d})
}

// grantableRoles are the roles a form offers for the bot to give to any
// member (a squad's, a reward's): those safe to, and the ones already
// chosen, so that their problem can be shown.
func grantableRoles(all []discordapi.Role, chosen ...string) []discordapi.Role {
	var out []discordapi.Role
	for _, r := range all {
		if r.Grantable() || slices.Contains(chosen, r.ID) {
			out = append(out, r)
		}
	}
	return out
}

// checkSquad puts every problem of a squad form next to its field: the
// spec's rules, and whether a newly chosen role (not kept, the squad's
// current) may be given to any member. When Discord does not answer, the
// role cannot be checked here; the bot's grant still can fail and is
// reported where it happens.
func (h *Handler) checkSquad(r *http.Request, g *guildCtx, f *form, spec squads.Spec, kept int64) {
	for _, err := range spec.Problems() {
		f.domain(err, nil)
	}
	if f.Err("role_id") != "" || spec.RoleID == kept {
		return
	}
	if msg := h.dir.SquadRoleProblem(r.Context(), g.ID, spec.RoleID); msg != "" {
		f.set("role_id", msg)
	}
}

// squadFormError shows a refused create or update next to its field.
func (h *Handler) squadFormError(w http.ResponseWriter, r *http.Request, g *guildCtx, f *form, err error) bool {
	// The domain names the role by id; the admin knows it by name.
	if ae := (*apperr.Error)(nil); errors.As(err, &ae) && ae.C == apperr.Conflict && ae.Field == "role_id" {
		id, _ := strconv.ParseInt(f.Get("role_id"), 10, 64)
		f.set("role_id", "“"+h.dir.RoleName(r.Context(), g.ID, id)+"” already belongs to another squad; each squad needs its own role.")
		return true
	}
	if f.domain(err, nil) {
		return true
	}
	if c := apperr.CodeOf(err); c == apperr.Conflict || c == apperr.Invalid || c == apperr.Refused {
		f.set("_form", err.Error())
		return true
	}
	return false
}

func (h *Handler) squadCreate(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	spec := specOf(f)
	h.checkSquad(r, g, f, spec, 0)
	if !f.Has() {
		s, err := h.d.Squads.Create(r.Context(), g.ID, g.UserID, spec)
		if err == nil {
			h.flash(w, r, "Squad “"+s.Name+"” created.")
			http.Redirect(w, r, guildPath(g, "/squads"), http.StatusSeeOther)
			return
		}
		if !h.squadFormError(w, r, g, f, err) {
			h.fail(w, r, err)
			return
		}
	}
	h.renderSquads(w, r, g, http.StatusUnprocessableEntity, f)
}

func (h *Handler) loadSquad(w http.ResponseWriter, r *http.Request, g *guildCtx) (squads.Squad, bool) {
	id, err := strconv.ParseInt(r.PathValue("squad"), 10, 64)
	if err != nil || id <= 0 {
		h.errorPage(w, r, http.StatusNotFound, "There is no such squad.")
		return squads.Squad{}, false
	}
	s, err := h.d.Squads.Get(r.Context(), g.ID, id)
	if apperr.Is(err, apperr.NotFound) {
		h.errorPage(w, r, http.StatusNotFound, "There is no such squad in this guild.")
		return squads.Squad{}, false
	}
	if err != nil {
		h.fail(w, r, err)
		return squads.Squad{}, false
	}
	return s, true
}

func (h *Handler) squadEdit(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	s, ok := h.loadSquad(w, r, g)
	if !ok {
		return
	}
	spec := squads.Spec{Name: s.Name, Description: s.Description, RoleID: s.RoleID, SwitchCost: s.SwitchCost, MaxMembers: s.MaxMembers, Active: s.Active}
	f := newForm(squadValues(spec))
	d := squadsData{Form: f, Roles: grantableRoles(h.dir.Roles(r.Context(), g.ID), f.Get("role_id")), Squad: &s}
	h.render(w, r, http.StatusOK, "squad_edit", &page{Title: "Edit " + s.Name, Nav: "squads", Guild: g, Data: d})
}

func (h *Handler) squadUpdate(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	s, ok := h.loadSquad(w, r, g)
	if !ok {
		return
	}
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	spec := specOf(f)
	h.checkSquad(r, g, f, spec, s.RoleID)
	if !f.Has() {
		u, err := h.d.Squads.Update(r.Context(), g.ID, g.UserID, s.ID, spec)
		if err == nil {
			h.flash(w, r, "Squad “"+u.Name+"” saved.")
			http.Redirect(w, r, guildPath(g, "/squads"), http.StatusSeeOther)
			return
		}
		if !h.squadFormError(w, r, g, f, err) {
			h.fail(w, r, err)
			return
		}
	}
	d := squadsData{Form: f, Roles: grantableRoles(h.dir.Roles(r.Context(), g.ID), f.Get("role_id")), Squad: &s}
	h.render(w, r, http.StatusUnprocessableEntity, "squad_edit", &page{Title: "Edit " + s.Name, Nav: "squads", Guild: g, Data: d})
}

func (h *Handler) squadDeleteConfirm(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	s, ok := h.loadSquad(w, r, g)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "squad_delete", &page{Title: "Delete " + s.Name, Nav: "squads", Guild: g, Data: squadsData{Squad: &s}})
}

func (h *Handler) squadDelete(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	s, ok := h.loadSquad(w, r, g)
	if !ok {
		return
	}
	if err := h.d.Squads.Delete(r.Context(), g.ID, g.UserID, s.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.flash(w, r, "Squad “"+s.Name+"” deleted; its members lose the squad role.")
	http.Redirect(w, r, guildPath(g, "/squads"), http.StatusSeeOther)
}

func guildPath(g *guildCtx, rest string) string {
	return "/guilds/" + strconv.FormatInt(g.ID, 10) + rest
}
