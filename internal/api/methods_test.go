package api_test

import (
	"net/http"
	"testing"

	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// A route asked with a method it does not take is a 405 problem naming the
// methods it takes, with or without a key; an unknown path stays a 404.
func TestMethodNotAllowedIsProblem(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), ratelimit.Default)
	for _, c := range []struct {
		method, path, key, allow string
	}{
		{"DELETE", g1 + "/bytes/transfers", r.admin, "GET, HEAD, POST"},
		{"POST", g1 + "/bytes/balances/10", r.admin, "GET, HEAD"},
		{"PATCH", g1 + "/bytes/config", "", "GET, HEAD, PUT"},
		{"PUT", "/api/openapi.json", "", "GET, HEAD"},
		{"POST", g1 + "/squads/7", r.admin, "GET, HEAD, PATCH, DELETE"},
	} {
		got := r.expect(r.do(c.method, c.path, c.key, nil), http.StatusMethodNotAllowed)
		if allow := got.Header.Get("Allow"); allow != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, allow, c.allow)
		}
		if got.JSON["code"] != "method_not_allowed" || got.JSON["status"] != 405.0 || got.JSON["request_id"] == nil {
			t.Errorf("%s %s: %s", c.method, c.path, got.Raw)
		}
	}
	r.expect(r.do("POST", "/api/v1/nothing", r.admin, nil), http.StatusNotFound)
	r.expect(r.do("DELETE", g1+"/bytes/nothing", r.admin, nil), http.StatusNotFound)
	// The routes themselves still answer their own methods.
	r.expect(r.do("GET", g1+"/bytes/config", r.read, nil), http.StatusOK)
}
