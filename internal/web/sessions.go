package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// sessionRow is one of the viewer's sessions as the sessions page lists it.
// Ref, the first 16 characters of the id's hash, names it in the form that
// ends it: never the id itself, which only its browser's cookie holds.
type sessionRow struct {
	Ref                              string
	Device                           string
	Current, Dev                     bool
	CreatedAt, LastSeenAt, ExpiresAt time.Time
}

type sessionsData struct {
	Sessions       []sessionRow
	Idle, Absolute string // IdleTimeout and AbsoluteTimeout in words
}

var sessionRef = regexp.MustCompile(`^[0-9a-f]{16}$`)

// sessionsPage lists where the viewer is signed in, so that a session left
// on a shared or lost device can be ended on its own.
func (h *Handler) sessionsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	now := h.now()
	rows, err := h.d.DB.Q().ListUserWebSessions(r.Context(), sqldb.ListUserWebSessionsParams{
		UserID: v.UserID, Now: now, IdleCutoff: now.Add(-IdleTimeout)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list := make([]sessionRow, 0, len(rows))
	for _, s := range rows {
		list = append(list, sessionRow{Ref: s.IDHash[:16], Device: deviceOf(s.UserAgent), Current: s.IDHash == v.idHash, Dev: s.Dev,
			CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt})
	}
	h.render(w, r, http.StatusOK, "sessions", &page{Title: "Your sessions", Viewer: v, Data: sessionsData{Sessions: list,
		Idle: fmt.Sprintf("%d hours", int(IdleTimeout.Hours())), Absolute: fmt.Sprintf("%d days", int(AbsoluteTimeout.Hours()/24))}})
}

// sessionEnd signs one of the viewer's other sessions out. Only the
// viewer's own sessions match; the current one is ended with Sign out.
func (h *Handler) sessionEnd(w http.ResponseWriter, r *http.Request, v *viewer) {
	ref := r.PathValue("ref")
	if !sessionRef.MatchString(ref) {
		h.errorPage(w, r, http.StatusNotFound, "You have no such session.")
		return
	}
	if strings.HasPrefix(v.idHash, ref) {
		h.errorPage(w, r, http.StatusConflict, "That is this session: use Sign out to end it.")
		return
	}
	ctx := r.Context()
	var ended []string
	err := h.d.DB.Tx(ctx, func(tx *store.Tx) error {
		var err error
		ended, err = tx.DeleteUserWebSession(ctx, sqldb.DeleteUserWebSessionParams{UserID: v.UserID, Ref: ref})
		return err
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(ended) == 0 {
		h.errorPage(w, r, http.StatusNotFound, "You have no such session: it may have ended already.")
		return
	}
	h.guildsMu.Lock()
	for _, id := range ended {
		delete(h.guilds, id)
	}
	h.guildsMu.Unlock()
	h.log.InfoContext(ctx, "session ended from another", "user_id", v.UserID)
	h.flash(w, r, "That session is signed out.")
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// maxUserAgent bounds what a session keeps of its browser's User-Agent.
const maxUserAgent = 300

// userAgentOf is the request's User-Agent as valid UTF-8, cut to
// maxUserAgent bytes on a character boundary.
func userAgentOf(r *http.Request) string {
	ua := strings.ToValidUTF8(r.UserAgent(), "")
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "") // drops a character cut in two
	}
	return ua
}

// uaNames map User-Agent fragments to names, most specific first (Edge's
// User-Agent says Chrome and Safari too; Chrome's says Safari).
type uaNames []struct {
	needles []string
	name    string
}

var (
	uaBrowsers = uaNames{{[]string{"Edg/", "Edge/"}, "Edge"}, {[]string{"OPR/", "Opera"}, "Opera"}, {[]string{"Firefox/"}, "Firefox"},
		{[]string{"Chrome/", "Chromium/"}, "Chrome"}, {[]string{"Safari/"}, "Safari"}, {[]string{"curl/"}, "curl"}}
	uaSystems = uaNames{{[]string{"Android"}, "Android"}, {[]string{"iPhone", "iPad"}, "iOS"}, {[]string{"Windows"}, "Windows"},
		{[]string{"Mac OS X", "Macintosh"}, "macOS"}, {[]string{"CrOS"}, "ChromeOS"}, {[]string{"Linux"}, "Linux"}}
)

// in is the name of the first entry with a needle in ua, or "".
func (names uaNames) in(ua string) string {
	for _, n := range names {
		for _, needle := range n.needles {
			if strings.Contains(ua, needle) {
				return n.name
			}
		}
	}
	return ""
}

// deviceOf names a browser as people do ("Firefox on Windows") from its
// User-Agent; the raw string when it says neither.
func deviceOf(ua string) string {
	browser, system := uaBrowsers.in(ua), uaSystems.in(ua)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	case ua == "":
		return "Unknown browser"
	}
	return ua
}
