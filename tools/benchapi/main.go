// Command benchapi measures API reads (GET balance, GET leaderboard) with an
// API key beside a static handler on the same HTTP server in the same run,
// with wrk at 64 connections, on SQLite and on PostgreSQL. It then offers
// balance reads at half the measured maximum rate with a fixed-rate (open
// loop) generator and reports their p99. `make bench-api` runs it.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
)

const (
	guild     = 1
	firstUser = 1_000_000
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchapi:", err)
		os.Exit(1)
	}
}

type result struct {
	engine, target string
	rps            float64
	p50, p99       time.Duration
}

func run() error {
	pgURL := flag.String("pg", os.Getenv("SMARTERDEV_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	conns := flag.Int("c", 64, "wrk connections")
	threads := flag.Int("t", 2, "wrk threads")
	duration := flag.Duration("d", 10*time.Second, "length of each wrk run")
	accounts := flag.Int("accounts", 1000, "accounts to read")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (Debian: apt-get install wrk)")
	}
	engines := []string{"sqlite"}
	if *pgURL != "" {
		engines = append(engines, "postgres")
	}
	var all []result
	for _, e := range engines {
		rs, err := benchEngine(e, *pgURL, *conns, *threads, *duration, *accounts)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		all = append(all, rs...)
	}
	fmt.Printf("\n%-9s %-22s %12s %9s %9s %8s\n", "engine", "target", "requests/s", "p50", "p99", "ratio")
	var static float64
	for _, r := range all {
		if r.target == "static" {
			static = r.rps
		}
		ratio := ""
		if r.rps > 0 && static > 0 && !strings.HasPrefix(r.target, "balance @") {
			ratio = fmt.Sprintf("%.2f", r.rps/static)
		}
		fmt.Printf("%-9s %-22s %12.0f %9s %9s %8s\n", r.engine, r.target, r.rps, ms(r.p50), ms(r.p99), ratio)
	}
	fmt.Printf("\n(wrk -t%d -c%d -d%s; ratio = rate / the static handler's rate on the same server in the same run;\n"+
		" \"balance @ N/s\" is an open-loop run at half the balance rate, latency measured from the scheduled send time)\n",
		*threads, *conns, *duration)
	return nil
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

func benchEngine(engine, pgURL string, conns, threads int, dur time.Duration, accounts int) ([]result, error) {
	ctx := context.Background()
	var dbURL string
	switch engine {
	case "sqlite":
		dir, err := os.MkdirTemp("", "benchapi")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		dbURL = "sqlite:" + filepath.Join(dir, "bench.db")
	case "postgres":
		schema := fmt.Sprintf("benchapi_%d", time.Now().UnixNano())
		admin, err := sql.Open("pgx", pgURL)
		if err != nil {
			return nil, err
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, fmt.Errorf("create schema: %w", err)
		}
		defer admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		u, err := url.Parse(pgURL)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}
	db, err := store.Open(ctx, dbURL, store.Options{MaxConns: 32})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	b := bus.NewMemory()
	defer b.Close()
	// Errors only: wrk cuts connections at the end of a run, which the API
	// logs as canceled requests.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	econ := economy.NewService(db, b, economy.Options{Logger: log})
	keys := apikeys.NewService(db, nil)
	// The real API handler; the per-key rate limit (20/s by default) is
	// raised so that it measures, not throttles, and still runs per request.
	h, err := api.New(api.Deps{DB: db, Economy: econ, Squads: squads.NewService(db, econ), Keys: keys,
		Idempotency: idempotency.NewStore(db, nil), Limiter: ratelimit.NewMemory(nil),
		Limit: ratelimit.Limit{Rate: 1_000_000, Burst: 1_000_000}, Logger: log, Version: "bench"})
	if err != nil {
		return nil, err
	}
	fmt.Printf("%s: seeding %d accounts...\n", engine, accounts)
	for i := range accounts {
		if _, _, err := econ.EnsureAccount(ctx, guild, economy.Member{ID: int64(firstUser + i), Name: "member" + strconv.Itoa(i)}); err != nil {
			return nil, err
		}
	}
	_, token, err := keys.Create(ctx, "bench", apikeys.Read, 0)
	if err != nil {
		return nil, err
	}

	// In-process cost of the two lookups a balance read makes, one at a time.
	const n = 3000
	t0 := time.Now()
	for range n {
		if _, err := keys.Authenticate(ctx, token); err != nil {
			return nil, err
		}
	}
	authCost := time.Since(t0) / n
	t0 = time.Now()
	for i := range n {
		if _, err := econ.Balance(ctx, guild, int64(firstUser+i%accounts)); err != nil {
			return nil, err
		}
	}
	balCost := time.Since(t0) / n
	fmt.Printf("%s: in process, one at a time: API key lookup %s/op, account read %s/op\n", engine, authCost, balCost)

	mux := http.NewServeMux()
	mux.Handle("/api/", h)
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"guild_id":"1","user_id":"1000000","balance":100,"total_received":0,"total_sent":0,"streak":0}` + "\n"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	script, err := os.CreateTemp("", "benchapi-*.lua")
	if err != nil {
		return nil, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintf(script, `wrk.headers["Authorization"] = "Bearer %s"
request = function()
  return wrk.format(nil, "/api/v1/guilds/%d/bytes/balances/" .. math.random(%d, %d))
end
`, token, guild, firstUser, firstUser+accounts-1)
	script.Close()

	var out []result
	targets := []struct {
		name string
		args []string
	}{
		{"static", []string{base + "/static"}},
		{"GET balance", []string{"-s", script.Name(), base + "/"}},
		{"GET leaderboard", []string{"-H", "Authorization: Bearer " + token, base + fmt.Sprintf("/api/v1/guilds/%d/bytes/leaderboard?limit=10", guild)}},
	}
	// Check every target answers 200 before measuring.
	for _, u := range []string{base + "/static", base + fmt.Sprintf("/api/v1/guilds/%d/bytes/balances/%d", guild, firstUser),
		base + fmt.Sprintf("/api/v1/guilds/%d/bytes/leaderboard?limit=10", guild)} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %d", u, res.StatusCode)
		}
	}
	var balanceRate float64
	for _, tg := range targets {
		args := append([]string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", dur.String(), "--latency"}, tg.args...)
		fmt.Printf("%s: wrk %s\n", engine, tg.name)
		r, err := wrk(args)
		if err != nil {
			return nil, err
		}
		r.engine, r.target = engine, tg.name
		out = append(out, r)
		if tg.name == "GET balance" {
			balanceRate = r.rps
		}
	}
	half := balanceRate / 2
	fmt.Printf("%s: balance reads at %.0f/s (open loop)\n", engine, half)
	p50, p99, got, err := fixedRate(base, token, accounts, half, dur)
	if err != nil {
		return nil, err
	}
	out = append(out, result{engine: engine, target: fmt.Sprintf("balance @ %.0f/s", half), rps: got, p50: p50, p99: p99})
	return out, nil
}

var (
	reqSec  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	non2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func wrk(args []string) (result, error) {
	cmd := exec.Command("wrk", args...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, b)
	}
	s := string(b)
	if m := non2xx.FindStringSubmatch(s); m != nil {
		return result{}, fmt.Errorf("wrk saw %s non-2xx responses:\n%s", m[1], s)
	}
	var r result
	m := reqSec.FindStringSubmatch(s)
	if m == nil {
		return result{}, fmt.Errorf("no rate in wrk output:\n%s", s)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, l := range latency.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(l[2], 64)
		d := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[l[3]]
		if l[1] == "50" {
			r.p50 = time.Duration(v * float64(d))
		} else {
			r.p99 = time.Duration(v * float64(d))
		}
	}
	return r, nil
}

// fixedRate sends GET balance at rate per second for dur, each request at
// its scheduled time (open loop, so a slow response does not hide queueing),
// and returns the latency percentiles measured from the scheduled time.
func fixedRate(base, token string, accounts int, rate float64, dur time.Duration) (p50, p99 time.Duration, achieved float64, err error) {
	if rate <= 0 {
		return 0, 0, 0, errors.New("no rate to offer")
	}
	// At most 64 requests in flight on 64 connections, like wrk; a request
	// that waits for a free slot still counts its wait in its latency.
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, IdleConnTimeout: time.Minute}
	slots := make(chan struct{}, 64)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	interval := time.Duration(float64(time.Second) / rate)
	n := int(dur / interval)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failures int
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			u := fmt.Sprintf("%s/api/v1/guilds/%d/bytes/balances/%d", base, guild, firstUser+rand.IntN(accounts))
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			ok := err == nil && res.StatusCode == 200
			if err == nil {
				_, _ = bufio.NewReader(res.Body).Discard(1 << 20)
				res.Body.Close()
			}
			d := time.Since(at)
			mu.Lock()
			if ok {
				lat = append(lat, d)
			} else {
				failures++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failures > 0 {
		return 0, 0, 0, fmt.Errorf("%d of %d requests failed", failures, n)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return pct(0.50), pct(0.99), float64(len(lat)) / elapsed.Seconds(), nil
}
