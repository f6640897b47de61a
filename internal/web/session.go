package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Cookie names.
const (
	sessionCookie = "sd_session" // the session id (random 32 bytes, base64url)
	oauthCookie   = "sd_oauth"   // state and PKCE verifier during sign-in, 10 minutes
	preCookie     = "sd_pre"     // CSRF token for forms shown before sign-in (double submit)
	flashCookie   = "sd_flash"   // one message for the next page
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"
)

// viewer is the signed-in person of a request.
type viewer struct {
	UserID   int64
	Name     string
	Operator bool   // may manage every guild
	Dev      bool   // signed in with the dev sign-in
	CSRF     string // the session's synchronizer token
	token    string // Discord OAuth2 access token ("" for dev sessions)
	idHash   string
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// secure reports whether browsers reach the dashboard over https: as the
// public URL says when it is configured (TLS may end at a proxy), else
// whether this request came over TLS.
func (h *Handler) secure(r *http.Request) bool {
	if h.public != nil {
		return h.public.Scheme == "https"
	}
	return r.TLS != nil
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = h.now().Add(maxAge)
	}
	http.SetCookie(w, c)
}

// startSession creates the server-side session and sets its cookie. Expired
// sessions of anyone are purged on the way.
func (h *Handler) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, user int64, name, accessToken string, dev bool) error {
	now := h.now()
	if err := h.d.DB.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.PurgeWebSessions(ctx, sqldb.PurgeWebSessionsParams{Now: now, IdleCutoff: now.Add(-IdleTimeout)})
		return err
	}); err != nil {
		h.log.WarnContext(ctx, "purging expired sessions failed", "err", err)
	}
	id := randomToken()
	idHash := hashID(id)
	if accessToken != "" && h.tokens == nil {
		return errors.New("no session key to seal the Discord token with")
	}
	sealed := h.tokens.seal(accessToken, idHash)
	err := h.d.DB.Tx(ctx, func(tx *store.Tx) error {
		return tx.InsertWebSession(ctx, sqldb.InsertWebSessionParams{
			IDHash: idHash, UserID: user, Username: name, AccessToken: sealed, CsrfToken: randomToken(),
			Dev: dev, CreatedAt: now, ExpiresAt: now.Add(AbsoluteTimeout), UserAgent: userAgentOf(r),
		})
	})
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	h.setCookie(w, r, sessionCookie, id, AbsoluteTimeout)
	return nil
}

// session returns the request's signed-in viewer, or nil. A session past its
// idle or absolute expiry is deleted.
func (h *Handler) session(r *http.Request) (*viewer, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	ctx := r.Context()
	idHash := hashID(c.Value)
	row, err := h.d.DB.Q().GetWebSession(ctx, idHash)
	if store.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	now := h.now()
	if !now.Before(row.ExpiresAt) || !now.Before(row.LastSeenAt.Add(IdleTimeout)) {
		_ = h.d.DB.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteWebSession(ctx, idHash) })
		return nil, nil
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		if err := h.d.DB.Tx(ctx, func(tx *store.Tx) error {
			return tx.TouchWebSession(ctx, sqldb.TouchWebSessionParams{Now: now, IDHash: idHash})
		}); err != nil {
			h.log.WarnContext(ctx, "session touch failed", "err", err)
		}
	}
	token, err := h.tokens.open(row.AccessToken, idHash)
	if err != nil {
		// Stored before tokens were sealed, or under another session key:
		// the session ends and its token leaves the database.
		h.log.InfoContext(ctx, "session ended: its Discord token cannot be opened", "user_id", row.UserID)
		_ = h.d.DB.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteWebSession(ctx, idHash) })
		return nil, nil
	}
	v := &viewer{UserID: row.UserID, Name: row.Username, Dev: row.Dev, CSRF: row.CsrfToken, token: token, idHash: idHash}
	v.Operator = h.isOperator(v.UserID) || (v.Dev && h.DevSignInAllowed())
	if v.Dev && !h.DevSignInAllowed() {
		return nil, nil // a dev session outlived dev mode: worthless
	}
	return v, nil
}

// endSession deletes the server-side session and clears the cookie.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	err := h.d.DB.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteWebSession(ctx, v.idHash) })
	h.guildsMu.Lock()
	delete(h.guilds, v.idHash)
	h.guildsMu.Unlock()
	h.setCookie(w, r, sessionCookie, "", -1)
	return err
}

// endAllSessions deletes every session of the viewer's user, on every
// device and replica, and clears this browser's cookie.
func (h *Handler) endAllSessions(w http.ResponseWriter, r *http.Request, v *viewer) (int64, error) {
	ctx := r.Context()
	var n int64
	err := h.d.DB.Tx(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.DeleteUserWebSessions(ctx, v.UserID)
		return err
	})
	h.guildsMu.Lock()
	delete(h.guilds, v.idHash) // other sessions' entries are unreachable now
	h.guildsMu.Unlock()
	h.setCookie(w, r, sessionCookie, "", -1)
	return n, err
}

func safeEqual(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// csrfOK checks a state-changing request: the session's synchronizer token
// in the form field or the htmx header, and a same-origin Origin when the
// browser sends one.
func (h *Handler) csrfOK(r *http.Request, want string) bool {
	if !h.sameOrigin(r) {
		return false
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return safeEqual(got, want)
}

// sameOrigin: the Origin is this request's host, or the public URL (a
// proxy may pass on another Host).
func (h *Handler) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == "" // "null" comes from sandboxed or cross-origin redirects
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if h.public != nil && strings.EqualFold(u.Scheme, h.public.Scheme) && strings.EqualFold(u.Host, h.public.Host) {
		return true
	}
	return strings.EqualFold(u.Host, r.Host)
}

// preToken returns the CSRF token for forms shown before sign-in, setting
// its cookie when missing (double-submit: the form echoes the cookie).
func (h *Handler) preToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	t := randomToken()
	h.setCookie(w, r, preCookie, t, 0)
	return t
}

func (h *Handler) preTokenOK(r *http.Request) bool {
	c, err := r.Cookie(preCookie)
	return err == nil && h.csrfOK(r, c.Value)
}

// flash keeps a message for the next page the browser shows.
func (h *Handler) flash(w http.ResponseWriter, r *http.Request, msg string) {
	h.setCookie(w, r, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), time.Minute)
}

func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	h.setCookie(w, r, flashCookie, "", -1)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 500 {
		return ""
	}
	return string(b)
}
