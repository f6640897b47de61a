package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/disgoorg/snowflake/v2"
)

const accessTokenTTL = 7 * 24 * time.Hour

var knownScopes = []string{"identify", "email", "guilds", "guilds.join", "guilds.members.read", "connections",
	"bot", "applications.commands", "role_connections.write", "openid"}

type oauthCode struct {
	clientID    string
	redirectURI string
	userID      ID
	scopes      []string
	challenge   string
	method      string
	expires     time.Time
}

type oauthToken struct {
	access  string
	refresh string
	userID  ID
	scopes  []string
	expires time.Time
}

func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var pickTmpl = template.Must(template.New("pick").Parse(`<!doctype html>
<html><head><title>Discord emulator - authorize</title></head><body>
<h1>Sign in to the Discord emulator</h1>
<p>Pick the emulated user to authorize as (scopes: {{.Scopes}}):</p>
<ul>{{range .Users}}<li><a id="user-{{.ID}}" href="{{.Link}}">{{.Name}}</a> ({{.ID}})</li>{{end}}</ul>
<p><a id="deny" href="{{.Deny}}">Cancel</a></p>
</body></html>`))

// serveAuthorize is Discord's consent screen. Instead of a password it lists
// emulated users; ?emulator_user=<id> (or "deny") skips the page.
func (e *Emulator) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != e.opts.ClientID {
		http.Error(w, "Invalid OAuth2 application (client_id)", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if redirect == "" || err != nil || !ru.IsAbs() ||
		(len(e.opts.RedirectURIs) > 0 && !slices.Contains(e.opts.RedirectURIs, redirect)) {
		http.Error(w, "Invalid OAuth2 redirect_uri", http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		v := ru.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code is emulated")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
		return
	}
	for _, s := range scopes {
		if !slices.Contains(knownScopes, s) {
			fail("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
			return
		}
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method != "S256" && method != "plain" && method != "" {
		fail("invalid_request", "unsupported code_challenge_method")
		return
	}
	pick := q.Get("emulator_user")
	if pick == "deny" {
		fail("access_denied", "The resource owner or authorization server denied the request")
		return
	}
	if pick == "" {
		e.renderPicker(w, r, scopes)
		return
	}
	uid, err := snowflake.Parse(pick)
	e.mu.Lock()
	u := e.users[uid]
	e.mu.Unlock()
	if err != nil || u == nil || u.Bot {
		http.Error(w, "unknown emulator_user", http.StatusBadRequest)
		return
	}
	code := randToken(15)
	e.mu.Lock()
	e.oauthCodes[code] = &oauthCode{clientID: e.opts.ClientID, redirectURI: redirect, userID: uid, scopes: scopes,
		challenge: q.Get("code_challenge"), method: method, expires: time.Now().Add(10 * time.Minute)}
	e.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func (e *Emulator) renderPicker(w http.ResponseWriter, r *http.Request, scopes []string) {
	type entry struct{ ID, Name, Link string }
	var users []entry
	e.mu.Lock()
	ids := make([]ID, 0, len(e.users))
	for id, u := range e.users {
		if !u.Bot {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		u := e.users[id]
		name := u.Username
		if u.GlobalName != nil {
			name = *u.GlobalName + " (@" + u.Username + ")"
		}
		q := r.URL.Query()
		q.Set("emulator_user", id.String())
		users = append(users, entry{ID: id.String(), Name: name, Link: r.URL.Path + "?" + q.Encode()})
	}
	e.mu.Unlock()
	q := r.URL.Query()
	q.Set("emulator_user", "deny")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pickTmpl.Execute(w, obj{"Users": users, "Scopes": strings.Join(scopes, " "), "Deny": r.URL.Path + "?" + q.Encode()})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	o := obj{"error": code}
	if desc != "" {
		o["error_description"] = desc
	}
	writeJSON(w, status, o)
}

func (e *Emulator) clientAuthOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == e.opts.ClientID && subtle.ConstantTimeCompare([]byte(secret), []byte(e.opts.ClientSecret)) == 1
}

func pkceOK(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if verifier == "" {
		return false
	}
	if method == "plain" {
		return verifier == challenge
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]) == challenge
}

func (e *Emulator) issueTokenLocked(userID ID, scopes []string) *oauthToken {
	t := &oauthToken{access: randToken(15), refresh: randToken(15), userID: userID, scopes: scopes,
		expires: time.Now().Add(accessTokenTTL)}
	e.oauthTokens[t.access] = t
	e.refreshToks[t.refresh] = t
	return t
}

func (e *Emulator) oauthToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "malformed form body")
		return
	}
	if !e.clientAuthOK(r) {
		oauthError(w, 401, "invalid_client", "")
		return
	}
	f := r.PostForm
	e.mu.Lock()
	defer e.mu.Unlock()
	var tok *oauthToken
	switch f.Get("grant_type") {
	case "authorization_code":
		c := e.oauthCodes[f.Get("code")]
		switch {
		case c == nil || time.Now().After(c.expires):
			oauthError(w, 400, "invalid_grant", `Invalid "code" in request.`)
			return
		case c.redirectURI != f.Get("redirect_uri"):
			oauthError(w, 400, "invalid_grant", `Invalid "redirect_uri" in request.`)
			return
		case !pkceOK(c.challenge, c.method, f.Get("code_verifier")):
			oauthError(w, 400, "invalid_grant", `Invalid "code_verifier" in request.`)
			return
		}
		delete(e.oauthCodes, f.Get("code")) // single use
		tok = e.issueTokenLocked(c.userID, c.scopes)
	case "refresh_token":
		old := e.refreshToks[f.Get("refresh_token")]
		if old == nil {
			oauthError(w, 400, "invalid_grant", `Invalid "refresh_token" in request.`)
			return
		}
		delete(e.refreshToks, old.refresh)
		delete(e.oauthTokens, old.access)
		tok = e.issueTokenLocked(old.userID, old.scopes)
	default:
		oauthError(w, 400, "unsupported_grant_type", "")
		return
	}
	writeJSON(w, 200, obj{"access_token": tok.access, "token_type": "Bearer", "expires_in": int(accessTokenTTL.Seconds()),
		"refresh_token": tok.refresh, "scope": strings.Join(tok.scopes, " ")})
}

func (e *Emulator) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "")
		return
	}
	if !e.clientAuthOK(r) {
		oauthError(w, 401, "invalid_client", "")
		return
	}
	t := r.PostForm.Get("token")
	e.mu.Lock()
	tok := e.oauthTokens[t]
	if tok == nil {
		tok = e.refreshToks[t]
	}
	if tok != nil {
		delete(e.oauthTokens, tok.access)
		delete(e.refreshToks, tok.refresh)
	}
	e.mu.Unlock()
	writeJSON(w, 200, obj{})
}

func (e *Emulator) oauthMe(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	e.mu.Lock()
	var exp time.Time
	for _, t := range e.oauthTokens {
		if t.userID == c.userID && slices.Equal(t.scopes, c.scopes) && t.expires.After(exp) {
			exp = t.expires
		}
	}
	o := obj{"application": obj{"id": e.appID, "name": e.opts.BotName, "icon": nil, "description": "",
		"bot_public": true, "bot_require_code_grant": false, "verify_key": strings.Repeat("0", 64), "flags": 0},
		"scopes": c.scopes, "expires": exp.UTC().Format(time.RFC3339)}
	if slices.Contains(c.scopes, "identify") {
		o["user"] = e.userByID(c.userID)
	}
	e.mu.Unlock()
	writeJSON(w, 200, o)
}
