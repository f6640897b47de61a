package app

import (
	"net/http"
	"strings"
	"testing"
)

// bearerStatus calls one API route with token.
func bearerStatus(t *testing.T, addr, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/guilds/1/bytes/leaderboard", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestAPIKeyCommands drives the CLI against the database a running server
// uses: a created key authenticates, a revoked one does not, a rotated one
// is replaced.
func TestAPIKeyCommands(t *testing.T) {
	env := sqliteEnv(t)
	code, out, errOut := run(t, env, "apikey", "create", "--name", "ci", "--scope", "read")
	if code != 0 || !strings.HasPrefix(out, "sdk_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("create: %d %q %s", code, out, errOut)
	}
	token := strings.TrimSpace(out)
	prefix := strings.Split(token, "_")[1]

	srv := start(t, env, "serve")
	if s := bearerStatus(t, srv.addr, token); s != http.StatusOK {
		t.Fatalf("created key: %d", s)
	}

	code, out, _ = run(t, env, "apikey", "list")
	if code != 0 || !strings.Contains(out, prefix) || !strings.Contains(out, "LAST USED") || !strings.Contains(out, "ci") {
		t.Fatalf("list: %d %s", code, out)
	}

	code, out, errOut = run(t, env, "apikey", "rotate", prefix)
	if code != 0 || !strings.HasPrefix(out, "sdk_") {
		t.Fatalf("rotate: %d %q %s", code, out, errOut)
	}
	rotated := strings.TrimSpace(out)
	if s := bearerStatus(t, srv.addr, token); s != http.StatusUnauthorized {
		t.Fatalf("old key after rotate: %d", s)
	}
	if s := bearerStatus(t, srv.addr, rotated); s != http.StatusOK {
		t.Fatalf("rotated key: %d", s)
	}

	if code, out, _ = run(t, env, "apikey", "revoke", strings.Split(rotated, "_")[1]); code != 0 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if s := bearerStatus(t, srv.addr, rotated); s != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", s)
	}

	if code, _, errOut = run(t, env, "apikey", "create", "--name", "x", "--scope", "root"); code != ExitUsage || !strings.Contains(errOut, "scope") {
		t.Fatalf("bad scope: %d %s", code, errOut)
	}
	if code, _, errOut = run(t, env, "apikey", "revoke", "ffffffffffff"); code != ExitFailure {
		t.Fatalf("unknown prefix: %d %s", code, errOut)
	}
}
