// Package allow answers "which methods does this path take?" for a
// ServeMux whose catch-all pattern serves the unknown paths, so that a wrong
// method gets a 405 with an Allow header in the surface's own format
// (problem+json for the API, an HTML page for the dashboard) instead of a 404.
package allow

import "net/http"

// candidates are the methods the product's routes use, in Allow order.
var candidates = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Methods lists the methods for which mux has a route at r's path other
// than the catch-all pattern; empty when the path itself is unknown.
func Methods(mux *http.ServeMux, r *http.Request, catchAll string) []string {
	var out []string
	for _, m := range candidates {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != catchAll {
			out = append(out, m)
		}
	}
	return out
}
