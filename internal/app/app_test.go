package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// buffer is a bytes.Buffer safe to read while Run writes to it.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func sqliteEnv(t *testing.T) map[string]string {
	return map[string]string{
		config.EnvDatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "data", "smarterdev.db"),
		config.EnvHTTPAddr:    "127.0.0.1:0",
		config.EnvLogFormat:   "json",
		config.EnvLogLevel:    "debug",
		// No emulated Discord unless a test is about the bot: it costs a
		// second per start and disgo v0.19.6 races on close under -race.
		config.EnvDiscordSandbox: "0",
	}
}

// run runs the program to completion.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = Run(ctx, args, envOf(env), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// running is the program started in the background with Run.
type running struct {
	addr   string
	stderr *buffer
	cancel context.CancelFunc
	code   chan int
}

// start runs the program until the test cancels it, and waits for it to
// log the address it listens on.
func start(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stderr: &buffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() { r.code <- Run(ctx, args, envOf(env), strings.NewReader(""), io.Discard, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.code:
		case <-time.After(30 * time.Second):
			t.Error("program did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listeningAddr(r.stderr.String()); addr != "" {
			r.addr = addr
			return r
		}
		select {
		case c := <-r.code:
			r.code <- c
			t.Fatalf("program exited with %d before listening: %s", c, r.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("program did not listen: %s", r.stderr)
	return nil
}

// stop cancels the program and returns its exit code.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case c := <-r.code:
		r.code <- c
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("program did not stop")
		return -1
	}
}

func listeningAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			return line.Addr
		}
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

type readiness struct {
	Status     string
	Components map[string]struct {
		Status    string
		LatencyMS *float64 `json:"latency_ms"`
		Error     string
	}
}

func checkReady(t *testing.T, addr string) {
	t.Helper()
	code, body := get(t, "http://"+addr+"/readyz")
	var rep readiness
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if code != http.StatusOK || rep.Status != "ready" {
		t.Fatalf("readyz: %d %s", code, body)
	}
	for _, name := range []string{"database", "bus", "migrations"} {
		c, ok := rep.Components[name]
		if !ok || c.Status != "up" || c.LatencyMS == nil {
			t.Fatalf("readyz component %s: %s", name, body)
		}
	}
}

func checkClosed(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after shutdown", addr)
	}
}

func TestServeSQLite(t *testing.T) {
	r := start(t, sqliteEnv(t), "serve")

	code, body := get(t, "http://"+r.addr+"/livez")
	if code != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Fatalf("livez: %d %q", code, body)
	}
	checkReady(t, r.addr)
	if code, _ := get(t, "http://"+r.addr+"/nope"); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}

	if c := r.stop(t); c != ExitOK {
		t.Fatalf("exit code %d after cancel: %s", c, r.stderr)
	}
	checkClosed(t, r.addr)
	if !strings.Contains(r.stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no stopped log: %s", r.stderr)
	}
}

func TestRoles(t *testing.T) {
	for _, role := range []string{"web", "bot", "worker"} {
		t.Run(role, func(t *testing.T) {
			r := start(t, sqliteEnv(t), role)
			checkReady(t, r.addr)
			if c := r.stop(t); c != ExitOK {
				t.Fatalf("exit code %d: %s", c, r.stderr)
			}
		})
	}
}

// TestInFlightRequestFinishes starts the app with Start and a test-only slow
// endpoint: a request running when shutdown begins still gets its answer.
func TestInFlightRequestFinishes(t *testing.T) {
	cfg, err := config.Load(envOf(sqliteEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/test/slow" {
				next.ServeHTTP(w, r)
				return
			}
			close(entered)
			time.Sleep(500 * time.Millisecond)
			_, _ = w.Write([]byte("done"))
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, cfg, Options{Role: RoleServe, WrapHandler: slow})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + a.Addr() + "/test/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	cancel()
	got := <-res
	if got.err != nil || got.code != http.StatusOK || got.body != "done" {
		t.Fatalf("in-flight request: %+v", got)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	checkClosed(t, a.Addr())
}

// A background loop that fails stops the process with an error (exit 1),
// and one that stops on shutdown does not.
func TestLoopFailureStopsTheApp(t *testing.T) {
	cfg, err := config.Load(envOf(sqliteEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Go("relay", func(ctx context.Context) error { return errors.New("lost the database") })
	err = a.Wait()
	if err == nil || !strings.Contains(err.Error(), "relay: lost the database") {
		t.Fatalf("Wait: %v", err)
	}
	checkClosed(t, a.Addr())

	ctx, cancel := context.WithCancel(context.Background())
	a, err = Start(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Go("steady", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	cancel()
	if err := a.Wait(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
}

func TestConfigErrorIsOneLine(t *testing.T) {
	env := sqliteEnv(t)
	env[config.EnvHTTPAddr] = "nonsense"
	for _, cmd := range [][]string{{"serve"}, {"web"}, {"migrate", "up"}, {"migrate", "status"}} {
		code, stdout, stderr := run(t, env, cmd...)
		if code != ExitUsage {
			t.Fatalf("%v: exit %d, want 2", cmd, code)
		}
		want := `smarterdev: SMARTERDEV_HTTP_ADDR="nonsense": want host:port, e.g. 127.0.0.1:8080`
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) || stdout != "" {
			t.Fatalf("%v: stderr %q stdout %q", cmd, stderr, stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"serve", "--bogus"}, {"serve", "extra"}, {}, {"migrate"}, {"migrate", "sideways"}} {
		code, _, stderr := run(t, sqliteEnv(t), args...)
		if code != ExitUsage || !strings.Contains(stderr, "smarterdev: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, stdout, _ := run(t, nil, "--help"); code != ExitOK || !strings.Contains(stdout, "serve") {
		t.Errorf("--help: exit %d: %s", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := run(t, nil, "version")
	if code != ExitOK || !strings.HasPrefix(stdout, "smarterdev dev\n") || !strings.Contains(stdout, "go:      go1.") || stderr != "" {
		t.Fatalf("version: %d %q %q", code, stdout, stderr)
	}
	// version needs no valid configuration.
	code, stdout, _ = run(t, map[string]string{config.EnvHTTPAddr: "nonsense"}, "--version")
	if code != ExitOK || !strings.HasPrefix(stdout, "smarterdev dev (commit ") {
		t.Fatalf("--version: %d %q", code, stdout)
	}
}

func TestMigrateSQLite(t *testing.T) {
	env := sqliteEnv(t)
	code, stdout, stderr := run(t, env, "migrate", "status")
	if code != ExitOK || !strings.Contains(stdout, "current: 0\n") || strings.Contains(stdout, "pending: none") {
		t.Fatalf("status before: %d %q %s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, env, "migrate", "up")
	if code != ExitOK || !strings.HasPrefix(stdout, "applied ") {
		t.Fatalf("first up: %d %q %s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, env, "migrate", "up")
	if code != ExitOK || !strings.HasPrefix(stdout, "already at version ") {
		t.Fatalf("second up: %d %q %s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, env, "migrate", "status")
	if code != ExitOK || !strings.Contains(stdout, "pending: none\n") || strings.Contains(stdout, "current: 0\n") {
		t.Fatalf("status after: %d %q", code, stdout)
	}
}

func TestPostgres(t *testing.T) {
	if !containsPostgres(storetest.Engines(t)) {
		t.Skip("PostgreSQL not configured")
	}
	env := sqliteEnv(t)
	env[config.EnvDatabaseURL] = storetest.URL(t, store.Postgres)

	code, _, stderr := run(t, env, "serve")
	if code != ExitFailure {
		t.Fatalf("serve on an unmigrated database: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	want := `smarterdev: database schema is at version 0, this binary needs `
	if !strings.HasPrefix(last, want) || !strings.HasSuffix(last, `: run "smarterdev migrate up" (or start with --migrate)`) {
		t.Fatalf("last line %q", last)
	}

	if code, stdout, stderr := run(t, env, "migrate", "up"); code != ExitOK {
		t.Fatalf("migrate up: %d %s %s", code, stdout, stderr)
	}
	r := start(t, env, "serve")
	checkReady(t, r.addr)
	if c := r.stop(t); c != ExitOK {
		t.Fatalf("exit %d: %s", c, r.stderr)
	}

	// --migrate lets a fresh database start at once.
	env[config.EnvDatabaseURL] = storetest.URL(t, store.Postgres)
	r = start(t, env, "web", "--migrate")
	checkReady(t, r.addr)
	if c := r.stop(t); c != ExitOK {
		t.Fatalf("exit %d: %s", c, r.stderr)
	}
}

func containsPostgres(engines []store.Dialect) bool {
	for _, e := range engines {
		if e == store.Postgres {
			return true
		}
	}
	return false
}

// A database that cannot be reached is a runtime failure whose line never
// shows the password.
func TestUnreachableDatabaseHidesPassword(t *testing.T) {
	env := sqliteEnv(t)
	env[config.EnvDatabaseURL] = "postgres://bob:hunter2secret@127.0.0.1:1/db?connect_timeout=2"
	code, _, stderr := run(t, env, "serve")
	if code != ExitFailure || !strings.Contains(stderr, "smarterdev: open database postgres://[redacted]@127.0.0.1:1/db: connect to postgres") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "hunter2secret") {
		t.Fatalf("stderr leaks the password: %s", stderr)
	}
}

func TestRedisBus(t *testing.T) {
	url := os.Getenv("SMARTERDEV_TEST_REDIS_URL")
	if url == "" {
		if storetest.RequireServices() {
			t.Fatal("SMARTERDEV_TEST_REDIS_URL is not set")
		}
		t.Skip("SMARTERDEV_TEST_REDIS_URL is not set")
	}
	env := sqliteEnv(t)
	env[config.EnvRedisURL] = url
	r := start(t, env, "serve")
	checkReady(t, r.addr)
	if !strings.Contains(r.stderr.String(), `"kind":"redis"`) {
		t.Fatalf("not on redis: %s", r.stderr)
	}
	if c := r.stop(t); c != ExitOK {
		t.Fatalf("exit %d: %s", c, r.stderr)
	}
}

// A server whose stderr is a file (a process's, under a supervisor) buffers
// its log lines (logging.Buffered): they still arrive without anyone
// flushing, and every one is out, in order, when the server has stopped.
func TestServerLogsToAFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func() string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() { code <- Run(ctx, []string{"web"}, envOf(sqliteEnv(t)), strings.NewReader(""), io.Discard, f) }()
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line reached the file: %s", read())
		}
		addr = listeningAddr(read())
	}
	const requests = 20
	for range requests {
		if c, _ := get(t, "http://"+addr+"/livez"); c != http.StatusOK {
			t.Fatalf("livez: %d", c)
		}
	}
	cancel()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit code %d: %s", c, read())
	}
	logs := strings.TrimSuffix(read(), "\n")
	lines := strings.Split(logs, "\n")
	if n := strings.Count(logs, `"route":"/livez"`); n != requests {
		t.Errorf("%d access lines for %d requests", n, requests)
	}
	var last struct{ Msg string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Msg != "stopped" {
		t.Errorf("last line %q, want the stopped line, flushed when the role stopped", lines[len(lines)-1])
	}
}
