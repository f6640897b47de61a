package app

import (
	"net/http"
)

// routes is the whole HTTP surface in one place. Every role serves health
// (so an orchestrator can probe it); the API, the dashboard, /interactions
// and /metrics mount here as they arrive, under the role that serves them.
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /livez", livez())
	mux.Handle("GET /readyz", a.health.Handler())
	// The web role's surface mounts here, under `if a.role.Runs(RoleWeb)`,
	// with a.services: /api/v1/..., /api/openapi.json, /api/docs,
	// /interactions and the dashboard.
	return mux
}

// livez answers while the process runs: it checks nothing else, so a slow
// database never gets a healthy process restarted.
func livez() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}
