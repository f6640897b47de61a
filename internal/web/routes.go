package web

import (
	"net/http"
	"strings"

	"github.com/smarterdev/smarterdev/internal/allow"
	"github.com/smarterdev/smarterdev/internal/logging"
)

// routes is every dashboard route. Pages under /guilds/{guild} go through
// h.guild, which signs the viewer in, checks CSRF on writes and checks that
// the viewer manages that guild.
func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /static/", staticHandler())
	// Browsers ask for /favicon.ico whatever the page links to.
	m.Handle("GET /favicon.ico", http.RedirectHandler("/static/favicon.svg", http.StatusMovedPermanently))

	// Sign-in and sign-out.
	m.HandleFunc("GET /signin", h.signInPage)
	m.HandleFunc("GET /auth/login", h.oauthStart)
	m.HandleFunc("GET /auth/callback", h.oauthCallback)
	m.HandleFunc("POST /auth/dev", h.devSignIn)
	m.HandleFunc("POST /signout", h.signedIn(h.signOut))
	m.HandleFunc("POST /signout/everywhere", h.signedIn(h.signOutEverywhere)) // every session of the viewer
	m.HandleFunc("GET /sessions", h.signedIn(h.sessionsPage))
	m.HandleFunc("POST /sessions/{ref}/end", h.signedIn(h.sessionEnd))

	// Pages.
	m.HandleFunc("GET /{$}", h.signedIn(h.overview))
	m.HandleFunc("GET /guilds", h.signedIn(h.jumpToGuild))
	m.HandleFunc("GET /status", h.signedIn(h.statusPage)) // operators and guild managers
	m.HandleFunc("GET /status/queues/{queue}", h.operator(h.deadLetters))
	m.HandleFunc("POST /status/queues/{queue}/redrive", h.operator(h.redrive))
	m.HandleFunc("GET /guilds/{guild}", h.guild(h.activity))
	m.HandleFunc("GET /guilds/{guild}/config", h.guild(h.configPage))
	m.HandleFunc("POST /guilds/{guild}/config", h.guild(h.configSave))
	m.HandleFunc("GET /guilds/{guild}/squads", h.guild(h.squadList))
	m.HandleFunc("POST /guilds/{guild}/squads", h.guild(h.squadCreate))
	m.HandleFunc("GET /guilds/{guild}/squads/{squad}", h.guild(h.squadEdit))
	m.HandleFunc("POST /guilds/{guild}/squads/{squad}", h.guild(h.squadUpdate))
	m.HandleFunc("GET /guilds/{guild}/squads/{squad}/delete", h.guild(h.squadDeleteConfirm))
	m.HandleFunc("POST /guilds/{guild}/squads/{squad}/delete", h.guild(h.squadDelete))
	m.HandleFunc("GET /guilds/{guild}/automod", h.guild(h.automodPage))
	m.HandleFunc("POST /guilds/{guild}/automod/rules", h.guild(h.ruleCreate))
	m.HandleFunc("GET /guilds/{guild}/automod/rules/{rule}", h.guild(h.ruleEdit))
	m.HandleFunc("POST /guilds/{guild}/automod/rules/{rule}", h.guild(h.ruleUpdate))
	m.HandleFunc("GET /guilds/{guild}/automod/rules/{rule}/delete", h.guild(h.ruleDeleteConfirm))
	m.HandleFunc("POST /guilds/{guild}/automod/rules/{rule}/delete", h.guild(h.ruleDelete))
	m.HandleFunc("POST /guilds/{guild}/automod/settings", h.guild(h.settingsSave))
	m.HandleFunc("POST /guilds/{guild}/automod/try", h.guild(h.automodTry))
	m.HandleFunc("GET /guilds/{guild}/cases", h.guild(h.caseList))
	m.HandleFunc("GET /guilds/{guild}/cases/{number}", h.guild(h.casePage))
	m.HandleFunc("POST /guilds/{guild}/cases/{number}/resolve", h.guild(h.caseResolve))
	m.HandleFunc("GET /guilds/{guild}/members", h.guild(h.memberList))
	m.HandleFunc("GET /guilds/{guild}/members/{user}", h.guild(h.memberProfile))
	m.HandleFunc("GET /guilds/{guild}/audit", h.guild(h.auditLog))
	m.HandleFunc("GET /guilds/{guild}/audit.csv", h.guild(h.auditExport))
	m.HandleFunc("GET /guilds/{guild}/apikeys", h.onGuild(h.keyList))
	m.HandleFunc("POST /guilds/{guild}/apikeys", h.onGuild(h.keyCreate))
	m.HandleFunc("GET /guilds/{guild}/apikeys/{prefix}/revoke", h.onGuild(h.keyConfirm("revoke")))
	m.HandleFunc("GET /guilds/{guild}/apikeys/{prefix}/rotate", h.onGuild(h.keyConfirm("rotate")))
	m.HandleFunc("POST /guilds/{guild}/apikeys/{prefix}/revoke", h.onGuild(h.keyRevoke))
	m.HandleFunc("POST /guilds/{guild}/apikeys/{prefix}/rotate", h.onGuild(h.keyRotate))
	// Keys for every guild: operators only (SMARTERDEV_OPERATOR_IDS).
	m.HandleFunc("GET /apikeys", h.onPlatform(h.keyList))
	m.HandleFunc("POST /apikeys", h.onPlatform(h.keyCreate))
	m.HandleFunc("GET /apikeys/{prefix}/revoke", h.onPlatform(h.keyConfirm("revoke")))
	m.HandleFunc("GET /apikeys/{prefix}/rotate", h.onPlatform(h.keyConfirm("rotate")))
	m.HandleFunc("POST /apikeys/{prefix}/revoke", h.onPlatform(h.keyRevoke))
	m.HandleFunc("POST /apikeys/{prefix}/rotate", h.onPlatform(h.keyRotate))

	m.HandleFunc(catchAll, h.unmatched)
	return m
}

// catchAll is the pattern of every path no route serves.
const catchAll = "/"

// unmatched answers a path no route serves with the 404 page, and a path
// served for other methods with the 405 page and an Allow header.
func (h *Handler) unmatched(w http.ResponseWriter, r *http.Request) {
	if methods := allow.Methods(h.mux, r, catchAll); len(methods) > 0 {
		logging.SetRoute(r.Context(), "method not allowed")
		w.Header().Set("Allow", strings.Join(methods, ", "))
		h.errorPage(w, r, http.StatusMethodNotAllowed, "This address does not take a "+r.Method+" request. Go back and use the page's links and buttons.")
		return
	}
	logging.SetRoute(r.Context(), "unmatched") // a bounded label, as for any unknown path
	h.errorPage(w, r, http.StatusNotFound, "")
}
