package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/apperr"
)

type keysData struct {
	Keys     []apikeys.Key
	Global   []apikeys.Key // working keys for every guild: listed, not managed, here
	Now      time.Time     // which keys have expired
	Form     *form
	NewToken string // shown once, right after create or rotate
	NewKey   *apikeys.Key
	Confirm  string // "revoke" or "rotate": the confirmation page's action
}

// keyConfirm asks before a revoke or a rotation: either one stops the key
// at once, and every client using it with it.
func (h *Handler) keyConfirm(action string) func(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	return func(w http.ResponseWriter, r *http.Request, g *guildCtx) {
		k, ok := h.guildKey(w, r, g)
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
		h.render(w, r, http.StatusOK, "apikey_confirm", &page{Title: title, Nav: "apikeys", Guild: g, Data: keysData{NewKey: &k, Confirm: action}})
	}
}

// guildKeys are the keys bound to this guild: the ones its admins may
// rotate and revoke.
func (h *Handler) guildKeys(ctx context.Context, guild int64) ([]apikeys.Key, error) {
	own, _, err := h.keysFor(ctx, guild)
	return own, err
}

// keysFor splits the keys of a guild: its own, which its admins manage, and
// the working ones for every guild, which only the operator can revoke but
// which the guild's admins should see.
func (h *Handler) keysFor(ctx context.Context, guild int64) (own, global []apikeys.Key, err error) {
	all, err := h.d.APIKeys.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := h.now()
	for _, k := range all {
		switch {
		case k.GuildID == guild:
			own = append(own, k)
		case k.GuildID == 0 && !k.Revoked() && !k.Expired(now):
			global = append(global, k)
		}
	}
	return own, global, nil
}

func (h *Handler) renderKeys(w http.ResponseWriter, r *http.Request, g *guildCtx, status int, d keysData) {
	own, global, err := h.keysFor(r.Context(), g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Keys, d.Global, d.Now = own, global, h.now()
	if d.Form == nil {
		d.Form = newForm(map[string][]string{"scope": {"read"}})
	}
	if d.NewToken != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	h.render(w, r, status, "apikeys", &page{Title: "API keys", Nav: "apikeys", Guild: g, Data: d})
}

func (h *Handler) keyList(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	h.renderKeys(w, r, g, http.StatusOK, keysData{})
}

func (h *Handler) keyCreate(w http.ResponseWriter, r *http.Request, g *guildCtx) {
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
		k, token, err := h.d.APIKeys.Create(r.Context(), g.UserID, apikeys.Spec{Name: f.Get("name"), Scope: scope, GuildID: g.ID, TTL: ttl})
		if err == nil {
			h.renderKeys(w, r, g, http.StatusOK, keysData{NewToken: token, NewKey: &k})
			return
		}
		if !f.domain(err, nil) {
			h.fail(w, r, err)
			return
		}
	}
	h.renderKeys(w, r, g, http.StatusUnprocessableEntity, keysData{Form: f})
}

// guildKey finds a key of this guild by the prefix in the path.
func (h *Handler) guildKey(w http.ResponseWriter, r *http.Request, g *guildCtx) (apikeys.Key, bool) {
	keys, err := h.guildKeys(r.Context(), g.ID)
	if err != nil {
		h.fail(w, r, err)
		return apikeys.Key{}, false
	}
	for _, k := range keys {
		if k.Prefix == r.PathValue("prefix") {
			return k, true
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "This guild has no API key with that prefix.")
	return apikeys.Key{}, false
}

func (h *Handler) keyRevoke(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	k, ok := h.guildKey(w, r, g)
	if !ok {
		return
	}
	_, err := h.d.APIKeys.Revoke(r.Context(), g.UserID, k.Prefix)
	if apperr.Is(err, apperr.Conflict) {
		h.flash(w, r, "Key "+k.Prefix+" was already revoked.")
		http.Redirect(w, r, guildPath(g, "/apikeys"), http.StatusSeeOther)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.flash(w, r, "Key "+k.Prefix+" revoked: requests with it now get 401.")
	http.Redirect(w, r, guildPath(g, "/apikeys"), http.StatusSeeOther)
}

func (h *Handler) keyRotate(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	k, ok := h.guildKey(w, r, g)
	if !ok {
		return
	}
	nk, token, err := h.d.APIKeys.Rotate(r.Context(), g.UserID, k.Prefix)
	if err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			h.errorPage(w, r, http.StatusConflict, err.Error())
			return
		}
		h.fail(w, r, err)
		return
	}
	h.renderKeys(w, r, g, http.StatusOK, keysData{NewToken: token, NewKey: &nk})
}
