package app

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/config"
)

func TestPublicURLCheckedAtStart(t *testing.T) {
	env := sqliteEnv(t)
	env[config.EnvPublicURL] = "dash.example.com"
	code, _, stderr := run(t, env, "web")
	want := `smarterdev: SMARTERDEV_PUBLIC_URL="dash.example.com": want the dashboard's address as browsers see it, scheme and host only, e.g. https://dash.example.com`
	if code != ExitUsage || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// Every path of the process answers a method it does not take with 405 and
// Allow: problem+json for the machine endpoints and the API, the HTML error
// page for the dashboard; never Go's plain-text default.
func TestWrongMethod(t *testing.T) {
	call := func(t *testing.T, addr, method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	problem := func(t *testing.T, res *http.Response, body string, status int) {
		t.Helper()
		var p struct{ Status int }
		if res.StatusCode != status || res.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal([]byte(body), &p) != nil || p.Status != status {
			t.Errorf("%s %s: %d %q %s, want a %d problem", res.Request.Method, res.Request.URL.Path, res.StatusCode,
				res.Header.Get("Content-Type"), body, status)
		}
	}

	t.Run("web", func(t *testing.T) {
		r := start(t, sqliteEnv(t), "web")
		for _, c := range []struct{ method, path, allow string }{
			{"POST", "/livez", "GET, HEAD"},
			{"DELETE", "/readyz", "GET, HEAD"},
			{"GET", "/interactions", "POST"},
			{"PUT", "/status.json", "GET, HEAD"},
			{"DELETE", "/api/v1/guilds/1/bytes/config", "GET, HEAD, PUT"},
		} {
			res, body := call(t, r.addr, c.method, c.path)
			problem(t, res, body, http.StatusMethodNotAllowed)
			if got := res.Header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
			}
		}
		for _, c := range []struct{ method, path, allow string }{
			{"POST", "/signin", "GET, HEAD"},
			{"PUT", "/guilds/1/config", "GET, HEAD, POST"},
		} {
			res, body := call(t, r.addr, c.method, c.path)
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != c.allow ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html") {
				t.Errorf("%s %s: %d Allow %q %q, want the HTML 405 page", c.method, c.path, res.StatusCode, res.Header.Get("Allow"), res.Header.Get("Content-Type"))
			}
		}
		if res, body := call(t, r.addr, "GET", "/livez"); res.StatusCode != http.StatusOK || !strings.Contains(body, "ok") {
			t.Errorf("GET /livez: %d", res.StatusCode)
		}
	})

	t.Run("worker", func(t *testing.T) {
		r := start(t, sqliteEnv(t), "worker")
		res, body := call(t, r.addr, "POST", "/metrics")
		problem(t, res, body, http.StatusMethodNotAllowed)
		if res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("Allow %q", res.Header.Get("Allow"))
		}
		res, body = call(t, r.addr, "GET", "/signin") // no dashboard in this role
		problem(t, res, body, http.StatusNotFound)
	})
}
