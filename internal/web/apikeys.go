package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
)

// keyPlace is where keys are managed: a guild's API keys page (the keys
// bound to it), or the operators' page of keys that work in every guild
// (guild 0).
type keyPlace struct {
	v     *viewer
	g     *guildCtx // nil on the operators' page
	guild int64     // 0: keys for every guild
}

func guildKeys(g *guildCtx) keyPlace  { return keyPlace{v: g.viewer, g: g, guild: g.ID} }
func platformKeys(v *viewer) keyPlace { return keyPlace{v: v} }

// path is the page's address, with rest appended.
func (p keyPlace) path(rest string) string {
	if p.g == nil {
		return "/apikeys" + rest
	}
	return guildPath(p.g, "/apikeys"+rest)
}

type keysData struct {
	Keys     []apikeys.Key
	Global   []apikeys.Key // on a guild's page, working keys for every guild: listed, not managed, there
	Platform bool          // the operators' page of keys for every guild
	Base     string        // the page's path
	Audit    string        // a guild's audit log, where "Changes" links; "" on the operators' page
	History  []auditRow    // the operators' page: the latest changes to keys for every guild
	// The history's pager: older changes ("" on the last page) and whether
	// this page is an older one, which links back to the newest.
	Older    string
	Paged    bool
	Now      time.Time // which keys have expired
	Expiring int       // the page's own keys that stop working within apikeys.ExpiryWarning
	Form     *form
	NewToken string // shown once, right after create or rotate
	NewKey   *apikeys.Key
	Confirm  string // "revoke" or "rotate": the confirmation page's action
}

// operator wraps a page for the installation's operators only
// (SMARTERDEV_OPERATOR_IDS); signedIn has checked CSRF on writes.
func (h *Handler) operator(next func(w http.ResponseWriter, r *http.Request, v *viewer)) http.HandlerFunc {
	return h.signedIn(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if !v.Operator {
			h.log.InfoContext(r.Context(), "operator page refused", "user_id", v.UserID, "path", r.URL.Path)
			h.errorPage(w, r, http.StatusForbidden, "This page is for the operators of this installation (SMARTERDEV_OPERATOR_IDS).")
			return
		}
		next(w, r, v)
	})
}

// onGuild and onPlatform adapt a keys handler to a guild's page and to the
// operators' page.
func (h *Handler) onGuild(fn func(http.ResponseWriter, *http.Request, keyPlace)) http.HandlerFunc {
	return h.guild(func(w http.ResponseWriter, r *http.Request, g *guildCtx) { fn(w, r, guildKeys(g)) })
}

func (h *Handler) onPlatform(fn func(http.ResponseWriter, *http.Request, keyPlace)) http.HandlerFunc {
	return h.operator(func(w http.ResponseWriter, r *http.Request, v *viewer) { fn(w, r, platformKeys(v)) })
}

func (h *Handler) renderPlace(w http.ResponseWriter, r *http.Request, p keyPlace, status int, name, title string, d keysData) {
	d.Platform, d.Base = p.g == nil, p.path("")
	if p.g != nil {
		d.Audit = guildPath(p.g, "/audit")
	}
	pg := &page{Title: title, Viewer: p.v, Data: d}
	if p.g != nil {
		pg.Guild, pg.Nav = p.g, "apikeys"
	}
	h.render(w, r, status, name, pg)
}

// keyConfirm asks before a revoke or a rotation: either one stops the key
// at once, and every client using it with it.
func (h *Handler) keyConfirm(action string) func(w http.ResponseWriter, r *http.Request, p keyPlace) {
	return func(w http.ResponseWriter, r *http.Request, p keyPlace) {
		k, ok := h.placeKey(w, r, p)
		if !ok {
			return
		}
		if k.Revoked() {
			h.errorPage(w, r, http.StatusConflict, "Key "+k.Prefix+" is already revoked.")
			return
		}
		title := "Revoke key " + k.Prefix + "?"
		if action == "rotate" {
			title = "Rotate key " + k.Prefix + "?"
		}
		h.renderPlace(w, r, p, http.StatusOK, "apikey_confirm", title, keysData{NewKey: &k, Confirm: action})
	}
}

// keysFor splits the keys for a place: its own, which it manages, and on a
// guild's page the working ones for every guild, which only operators
// manage but which the guild's admins should see.
func (h *Handler) keysFor(ctx context.Context, p keyPlace) (own, global []apikeys.Key, err error) {
	all, err := h.d.APIKeys.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := h.now()
	for _, k := range all {
		switch {
		case k.GuildID == p.guild:
			own = append(own, k)
		case k.GuildID == 0 && !k.Revoked() && !k.Expired(now):
			global = append(global, k)
		}
	}
	return own, global, nil
}

func (h *Handler) renderKeys(w http.ResponseWriter, r *http.Request, p keyPlace, status int, d keysData) {
	ctx := r.Context()
	own, global, err := h.keysFor(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Keys, d.Global, d.Now = own, global, h.now()
	for _, k := range own {
		if k.ExpiresSoon(d.Now) {
			d.Expiring++
		}
	}
	if p.g == nil {
		before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		var next int64
		if d.History, next, err = h.keyHistory(ctx, own, before); err != nil {
			h.fail(w, r, err)
			return
		}
		d.Paged = before > 0
		if next > 0 {
			d.Older = p.path("?before=" + strconv.FormatInt(next, 10) + "#key-history")
		}
	}
	if d.Form == nil {
		d.Form = newForm(map[string][]string{"scope": {"read"}})
	}
	if d.NewToken != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	title := "API keys"
	if p.g == nil {
		title = "API keys for every guild"
	}
	h.renderPlace(w, r, p, status, "apikeys", title, d)
}

// keyHistoryLen is how many changes a page of the operators' history shows.
const keyHistoryLen = 20

// keyHistory is a page of the changes to keys for every guild, older than
// the entry before (0: the newest), which the audit log keeps under guild 0
// (no guild's log shows them): the audit page's rows, the key as their
// subject, people by their Discord user. next is the cursor of the page
// after it, 0 on the last.
func (h *Handler) keyHistory(ctx context.Context, keys []apikeys.Key, before int64) (rows []auditRow, next int64, err error) {
	entries, err := audit.List(ctx, h.d.DB, 0, before, keyHistoryLen+1, audit.Filter{Area: "apikeys"})
	if err != nil {
		return nil, 0, err
	}
	if len(entries) > keyHistoryLen {
		entries = entries[:keyHistoryLen]
		next = entries[len(entries)-1].ID
	}
	names := map[string]string{}
	for _, k := range keys {
		names[k.Prefix] = k.Name
	}
	var people []int64
	for _, e := range entries {
		if e.ActorID > 0 {
			people = append(people, e.ActorID)
		}
	}
	profiles := h.dir.Users(ctx, people)
	out := make([]auditRow, 0, len(entries))
	for _, e := range entries {
		prefix := strings.TrimPrefix(e.Target, "apikey:")
		out = append(out, auditRow{ID: e.ID, At: e.At, Actor: profiles[e.ActorID], ActorID: e.ActorID, Action: e.Action,
			Title: auditTitle(e.Action), Subject: prefix, KeyName: names[prefix], CLI: e.FromCommandLine(),
			System:  e.ActorID == 0 && e.Source() == "",
			Changes: valueNames{}.diff(e.Before, e.After)}) // a key's fields name no role or channel
	}
	return out, next, nil
}

func (h *Handler) keyList(w http.ResponseWriter, r *http.Request, p keyPlace) {
	h.renderKeys(w, r, p, http.StatusOK, keysData{})
}

func (h *Handler) keyCreate(w http.ResponseWriter, r *http.Request, p keyPlace) {
	_ = r.ParseForm()
	f := newForm(r.PostForm)
	scope, err := apikeys.ParseScope(f.Get("scope"))
	if err != nil {
		f.set("scope", "Choose read, write or admin.")
	}
	if strings.TrimSpace(f.Get("name")) == "" {
		f.set("name", "Give the key a name, e.g. what uses it.")
	}
	days := f.int64Field("expires_in", 0)
	if days < 0 || days > int64(apikeys.MaxTTL/(24*time.Hour)) { // before multiplying: no overflow
		f.set("expires_in", "Choose a lifetime between a day and five years, or never.")
	}
	ttl := time.Duration(days) * 24 * time.Hour
	if !f.Has() {
		k, token, err := h.d.APIKeys.Create(r.Context(), p.v.UserID, apikeys.Spec{Name: f.Get("name"), Scope: scope, GuildID: p.guild, TTL: ttl})
		if err == nil {
			h.renderKeys(w, r, p, http.StatusOK, keysData{NewToken: token, NewKey: &k})
			return
		}
		if !f.domain(err, nil) {
			h.fail(w, r, err)
			return
		}
	}
	h.renderKeys(w, r, p, http.StatusUnprocessableEntity, keysData{Form: f})
}

// placeKey finds a key of this place by the prefix in the path.
func (h *Handler) placeKey(w http.ResponseWriter, r *http.Request, p keyPlace) (apikeys.Key, bool) {
	keys, _, err := h.keysFor(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return apikeys.Key{}, false
	}
	for _, k := range keys {
		if k.Prefix == r.PathValue("prefix") {
			return k, true
		}
	}
	if p.g == nil {
		h.errorPage(w, r, http.StatusNotFound, "There is no key for every guild with that prefix. A guild's own keys are on that guild's API keys page.")
	} else {
		h.errorPage(w, r, http.StatusNotFound, "This guild has no API key with that prefix.")
	}
	return apikeys.Key{}, false
}

func (h *Handler) keyRevoke(w http.ResponseWriter, r *http.Request, p keyPlace) {
	k, ok := h.placeKey(w, r, p)
	if !ok {
		return
	}
	_, err := h.d.APIKeys.Revoke(r.Context(), p.v.UserID, k.Prefix)
	if apperr.Is(err, apperr.Conflict) {
		h.flash(w, r, "Key "+k.Prefix+" was already revoked.")
		http.Redirect(w, r, p.path(""), http.StatusSeeOther)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.flash(w, r, "Key "+k.Prefix+" revoked: requests with it now get 401.")
	http.Redirect(w, r, p.path(""), http.StatusSeeOther)
}

func (h *Handler) keyRotate(w http.ResponseWriter, r *http.Request, p keyPlace) {
	k, ok := h.placeKey(w, r, p)
	if !ok {
		return
	}
	nk, token, err := h.d.APIKeys.Rotate(r.Context(), p.v.UserID, k.Prefix)
	if err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			h.errorPage(w, r, http.StatusConflict, err.Error())
			return
		}
		h.fail(w, r, err)
		return
	}
	h.renderKeys(w, r, p, http.StatusOK, keysData{NewToken: token, NewKey: &nk})
}
