package web

import (
	"crypto/sha256"
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smarterdev/smarterdev/internal/discordapi"
)

// redirectURI is the dashboard's /auth/callback as the browser reaches it:
// under the public URL when configured, else this request's scheme and host.
// Discord only accepts redirect URIs registered for the application, so a
// forged Host header cannot send codes elsewhere.
func (h *Handler) redirectURI(r *http.Request) string {
	if h.public != nil {
		return h.public.Scheme + "://" + h.public.Host + "/auth/callback"
	}
	scheme := "http"
	if h.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/auth/callback"
}

type signInData struct {
	OAuth     bool
	Dev       bool
	PreCSRF   string
	Error     string
	Username  string
	UserIDRaw string
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if v, _ := h.session(r); v != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d := signInData{OAuth: h.d.Discord.OAuthConfigured(), Dev: h.DevSignInAllowed()}
	if d.Dev {
		d.PreCSRF = h.preToken(w, r)
	}
	switch r.URL.Query().Get("error") {
	case "":
	case "state":
		d.Error = "The sign-in link expired or was opened in another browser. Please try again."
	case "denied":
		d.Error = "Discord did not authorize the sign-in."
	default:
		d.Error = "Signing in with Discord failed. Please try again."
	}
	h.render(w, r, http.StatusOK, "signin", &page{Title: "Sign in", Data: d})
}

// oauthStart sends the browser to Discord with a fresh state and PKCE
// verifier, both kept in a short-lived HttpOnly cookie bound to this browser.
func (h *Handler) oauthStart(w http.ResponseWriter, r *http.Request) {
	if !h.d.Discord.OAuthConfigured() {
		h.errorPage(w, r, http.StatusNotFound, "Discord sign-in is not configured (SMARTERDEV_DISCORD_CLIENT_ID and SMARTERDEV_DISCORD_CLIENT_SECRET).")
		return
	}
	state, verifier := discordapi.NewState(), discordapi.NewVerifier()
	h.setCookie(w, r, oauthCookie, state+"."+verifier, 10*time.Minute)
	http.Redirect(w, r, h.d.Discord.AuthorizeURL(h.redirectURI(r), state, verifier), http.StatusFound)
}

func (h *Handler) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(oauthCookie)
	h.setCookie(w, r, oauthCookie, "", -1) // one attempt per cookie
	state, verifier, ok := "", "", false
	if err == nil {
		state, verifier, ok = strings.Cut(c.Value, ".")
	}
	if !ok || !safeEqual(q.Get("state"), state) {
		h.log.InfoContext(r.Context(), "sign-in refused: state mismatch")
		http.Redirect(w, r, "/signin?error=state", http.StatusSeeOther)
		return
	}
	if q.Get("error") != "" {
		http.Redirect(w, r, "/signin?error=denied", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	tok, err := h.d.Discord.Exchange(ctx, q.Get("code"), h.redirectURI(r), verifier)
	if err != nil {
		h.log.WarnContext(ctx, "sign-in: code exchange failed", "err", err)
		http.Redirect(w, r, "/signin?error=exchange", http.StatusSeeOther)
		return
	}
	me, err := h.d.Discord.Me(ctx, tok.AccessToken)
	if err != nil || me.IDInt() <= 0 {
		h.log.WarnContext(ctx, "sign-in: reading the user failed", "err", err)
		http.Redirect(w, r, "/signin?error=user", http.StatusSeeOther)
		return
	}
	if err := h.startSession(ctx, w, r, me.IDInt(), me.Name(), tok.AccessToken, false); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "signed in", "user_id", me.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// devSignIn signs in by name alone: only in dev mode on a loopback address,
// and only from a loopback client. A dev user may manage every guild.
func (h *Handler) devSignIn(w http.ResponseWriter, r *http.Request) {
	if !h.DevSignInAllowed() || !fromLoopback(r) {
		h.errorPage(w, r, http.StatusForbidden, "The username-only sign-in exists only in dev mode (SMARTERDEV_DEV_MODE=1) on a loopback address.")
		return
	}
	if !h.preTokenOK(r) {
		h.errorPage(w, r, http.StatusForbidden, "The form expired. Go back, reload the page and try again.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("username"))
	rawID := strings.TrimSpace(r.PostFormValue("user_id"))
	d := signInData{OAuth: h.d.Discord.OAuthConfigured(), Dev: true, PreCSRF: h.preToken(w, r), Username: name, UserIDRaw: rawID}
	if name == "" || utf8.RuneCountInString(name) > 32 {
		d.Error = "Enter a username of 1 to 32 characters."
		h.render(w, r, http.StatusUnprocessableEntity, "signin", &page{Title: "Sign in", Data: d})
		return
	}
	id := devUserID(name)
	if rawID != "" {
		n, err := strconv.ParseInt(rawID, 10, 64)
		if err != nil || n <= 0 {
			d.Error = "The user id must be a Discord snowflake (digits), or empty."
			h.render(w, r, http.StatusUnprocessableEntity, "signin", &page{Title: "Sign in", Data: d})
			return
		}
		id = n
	}
	if err := h.startSession(r.Context(), w, r, id, name, "", true); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// devUserID gives a dev user a stable, plausible snowflake from their name.
func devUserID(name string) int64 {
	sum := sha256.Sum256([]byte(strings.ToLower(name)))
	return int64(binary.BigEndian.Uint64(sum[:8])>>2) | 1<<60
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := h.endSession(w, r, v); err != nil {
		h.fail(w, r, err)
		return
	}
	h.flash(w, r, "You are signed out.")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// signOutEverywhere ends every session of the viewer: other browsers and
// devices too, e.g. after signing in on a shared computer.
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request, v *viewer) {
	n, err := h.endAllSessions(w, r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "signed out everywhere", "user_id", v.UserID, "sessions", n)
	h.flash(w, r, "You are signed out on every device.")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// signedIn wraps a handler that needs a viewer: anonymous GETs go to the
// sign-in page; every other method must carry the session's CSRF token.
func (h *Handler) signedIn(next func(w http.ResponseWriter, r *http.Request, v *viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h.session(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if v == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				if r.Header.Get("HX-Request") != "" {
					w.Header().Set("HX-Redirect", "/signin")
				}
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			h.errorPage(w, r, http.StatusForbidden, "You are not signed in, or your session expired.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !h.csrfOK(r, v.CSRF) {
				h.log.InfoContext(r.Context(), "CSRF check failed", "path", r.URL.Path, "user_id", v.UserID)
				h.errorPage(w, r, http.StatusForbidden, "This form expired or did not come from this dashboard. Go back, reload the page and try again.")
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r, v)
	}
}
