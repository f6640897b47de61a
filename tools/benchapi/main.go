// Command benchapi measures API reads (GET balance, GET leaderboard) with an
// API key beside a static handler on the same HTTP server in the same run,
// with wrk at 64 connections, on SQLite and on PostgreSQL. It then offers
// balance reads at half the measured maximum rate with a fixed-rate (open
// loop) generator and reports their p99. `make bench-api` runs it.
//
// -instr both serves the same API twice in one process, without
// instrumentation ("off") and with the production one ("on": spans for the
// request and its queries through the SDK's batching processor to an exporter
// that only counts them, the JSON access log at info level to /dev/null
// through the server's buffered output, Prometheus HTTP and query metrics,
// the SLO counter), and runs wrk against
// each in alternating order for -rounds rounds, so that the overhead is
// measured in the same run. -tracing=false leaves tracing out of "on" (as
// production without an OTLP endpoint); OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG choose the sampler as in production (default:
// parent-based, 10 % of new traces, at most -traces-per-second of them,
// 100 by default as in production; OTEL_TRACES_SAMPLER=always_on with
// -traces-per-second 0 traces every request).
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/app"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/telemetry"
	"github.com/smarterdev/smarterdev/internal/web"
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
	engine, instr, target string
	round                 int
	rps                   float64
	p50, p99              time.Duration
	p99Released           time.Duration // open loop: from each request's release (see openLoopStats)
	openLoop              bool
	// CPU time per request of this process (the server) and of wrk,
	// from rusage: what the rate is made of when the cores are shared.
	srvCPU, wrkCPU time.Duration
}

// cpuRatio is static's CPU per request (server and wrk) over r's: the rate
// ratio on cores that only these two processes used.
func (r result) cpuRatio(static result) float64 {
	if r.srvCPU+r.wrkCPU == 0 {
		return 0
	}
	return float64(static.srvCPU+static.wrkCPU) / float64(r.srvCPU+r.wrkCPU)
}

type options struct {
	pgURL          string
	conns, threads int
	dur            time.Duration
	accounts       int
	targets        map[string]bool
	modes          []string // "off", "on"
	rounds         int
	openLoop       bool
	spans          *countingExporter
}

func run() error {
	if len(os.Args) > 1 && os.Args[1] == loadgenArg {
		return loadgen(os.Args[2:])
	}
	pgURL := flag.String("pg", os.Getenv("SMARTERDEV_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	noSQLite := flag.Bool("no-sqlite", false, "with -pg: PostgreSQL only (no SQLite phase before it)")
	conns := flag.Int("c", 64, "wrk connections")
	threads := flag.Int("t", 2, "wrk threads")
	duration := flag.Duration("d", 10*time.Second, "length of each wrk run")
	accounts := flag.Int("accounts", 1000, "accounts to read")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	targets := flag.String("targets", "static,balance,leaderboard", "wrk targets, comma-separated: static, balance, leaderboard, raw (the static body from a minimal HTTP/1.1 responder instead of net/http: the floor of the machine)")
	instr := flag.String("instr", "off", "instrumentation of the API: off, on (as in production, spans counted in memory), logs (on without tracing: logs and metrics), both (off and on in alternating order) or all (off, logs, on)")
	rounds := flag.Int("rounds", 0, "wrk runs per target and instrumentation setting (default 1; 3 with -instr both)")
	openLoop := flag.Bool("openloop", true, "after wrk, offer balance reads at half the measured rate and report p50/p99")
	tracing := flag.Bool("tracing", true, "with -instr on or both: trace (false: logs and metrics only, as production without an OTLP endpoint)")
	tracesPerSecond := flag.Int("traces-per-second", config.DefaultTracesPerSecond, "with tracing: the cap on new traces a second, as SMARTERDEV_TRACES_PER_SECOND (0: none)")
	serverCPUs := flag.String("server-cpus", "", "run the server (this process) on these CPUs only, as taskset -c takes them (e.g. 1)")
	flag.IntVar(&serverNice, "server-nice", 0, "run the server at this nice value (-20 to 19; the load generators stay at the caller's), as a unit's Nice= would")
	flag.IntVar(&serverRT, "server-rt", 0, "run the server under SCHED_FIFO at this priority (1-99; 0: the normal scheduler), as a unit's CPUSchedulingPolicy=fifo would")
	flag.BoolVar(&unbufferedLogs, "unbuffered-logs", false, "with instrumentation on: a write system call per log line instead of the server's buffered output")
	flag.DurationVar(&accountTTL, "account-ttl", 0, "the balance cache's TTL (0: the product's default; negative: no cache)")
	cpuDMALatency := flag.Int("cpu-dma-latency", -1, "hold this CPU wake-up latency limit in µs through /dev/cpu_dma_latency while measuring (0: idle CPUs poll instead of halting, as tuned's latency-performance profile sets; -1: leave the machine's setting; needs root)")
	flag.StringVar(&memProfilePrefix, "memprofile", "", "write the server's heap profile at the end of each engine's phase to PREFIX-ENGINE.heap (what the collector marks: go tool pprof -sample_index=inuse_space)")
	flag.StringVar(&tracePrefix, "trace", "", "write the server's runtime trace of each open-loop balance run to PREFIX-ENGINE-ROUND.trace (go tool trace reads it)")
	serverProcs := flag.Int("server-procs", 0, "the server's GOMAXPROCS (0: Go's default, the CPUs it may run on); the load generators keep theirs")
	flag.StringVar(&loadCPUs, "load-cpus", "", "run the load generators (wrk, the open-loop client) on these CPUs only (e.g. 0)")
	flag.Parse()
	if memProfilePrefix != "" {
		runtime.MemProfileRate = 1 // every allocation: the live heap is a few MB
	}
	// Nonsense is refused before anything runs (wrk's own complaint, or a
	// panic on no accounts, said less).
	switch {
	case *duration <= 0:
		return fmt.Errorf("-d: want a length above zero (e.g. 5s), got %v", *duration)
	case *threads < 1 || *conns < *threads:
		return fmt.Errorf("-c and -t: want at least one thread and at least as many connections as threads, got -c %d -t %d", *conns, *threads)
	case *accounts < 1:
		return fmt.Errorf("-accounts: want at least 1, got %d", *accounts)
	case *rounds < 0:
		return fmt.Errorf("-rounds: want 0 (the default) or more, got %d", *rounds)
	case *tracesPerSecond < 0:
		return fmt.Errorf("-traces-per-second: want 0 (no cap) or more, got %d", *tracesPerSecond)
	case serverNice < -20 || serverNice > 19:
		return fmt.Errorf("-server-nice: want -20 to 19, got %d", serverNice)
	case serverRT < 0 || serverRT > 99:
		return fmt.Errorf("-server-rt: want 0 (off) or 1-99, got %d", serverRT)
	case *cpuDMALatency < -1:
		return fmt.Errorf("-cpu-dma-latency: want -1 (off) or a limit in µs from 0, got %d", *cpuDMALatency)
	case (serverNice < 0 || serverRT > 0) && os.Geteuid() != 0:
		return errors.New("-server-nice below 0 and -server-rt need root (nice would go on at the same priority with a warning)")
	case tracePrefix != "" && !isDir(filepath.Dir(tracePrefix)):
		return fmt.Errorf("-trace: %s is not a directory to write the traces in", filepath.Dir(tracePrefix))
	case memProfilePrefix != "" && !isDir(filepath.Dir(memProfilePrefix)):
		return fmt.Errorf("-memprofile: %s is not a directory to write the profiles in", filepath.Dir(memProfilePrefix))
	case serverNice != 0 && serverRT != 0:
		return errors.New("-server-nice and -server-rt: choose one (nice does not apply under SCHED_FIFO)")
	case *serverProcs < 0:
		return fmt.Errorf("-server-procs: want 0 (Go's default) or more, got %d", *serverProcs)
	case *noSQLite && *pgURL == "":
		return errors.New("-no-sqlite: needs -pg (or SMARTERDEV_TEST_DATABASE_URL), or nothing would run")
	}
	if (*serverCPUs != "" || serverNice != 0 || serverRT != 0) && os.Getenv(pinnedEnv) == "" {
		return pinSelf(*serverCPUs)
	}
	if *serverProcs > 0 {
		runtime.GOMAXPROCS(*serverProcs)
	}
	if *cpuDMALatency >= 0 {
		release, err := holdCPULatency(*cpuDMALatency)
		if err != nil {
			return err
		}
		defer release()
	}
	o := options{pgURL: *pgURL, conns: *conns, threads: *threads, dur: *duration, accounts: *accounts,
		targets: map[string]bool{}, rounds: *rounds, openLoop: *openLoop}
	for _, t := range strings.Split(*targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case "static", "balance", "leaderboard", "raw":
			o.targets[t] = true
		default:
			return fmt.Errorf("unknown target %q (static, balance, leaderboard, raw)", t)
		}
	}
	switch *instr {
	case "off", "on", "logs":
		o.modes = []string{*instr}
	case "both":
		o.modes = []string{"off", "on"}
	case "all":
		o.modes = []string{"off", "logs", "on"}
	default:
		return fmt.Errorf("-instr: want off, on, logs, both or all, got %q", *instr)
	}
	if o.rounds <= 0 {
		o.rounds = 1
		if len(o.modes) > 1 {
			o.rounds = 3
		}
	}
	if slices.Contains(o.modes, "on") && *tracing {
		// The production tracer provider (batching, resource, sampler) with an
		// exporter that counts spans instead of sending them.
		o.spans = &countingExporter{}
		tp := telemetry.NewProvider(o.spans, telemetry.Options{ServiceVersion: "bench", Role: "web", TracesPerSecond: *tracesPerSecond})
		telemetry.Install(tp)
		defer func() { _ = tp.Shutdown(context.Background()) }()
	}
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
	app.TuneGC(os.Getenv, slog.New(slog.DiscardHandler)) // the server roles' GC setting
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (Debian: apt-get install wrk)")
	}
	var engines []string
	if !*noSQLite {
		engines = append(engines, "sqlite")
	}
	if o.pgURL != "" {
		engines = append(engines, "postgres")
	}
	var all []result
	for _, e := range engines {
		rs, err := benchEngine(e, o)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		all = append(all, rs...)
	}
	report(all, o)
	return nil
}

func report(all []result, o options) {
	fmt.Printf("\n%-9s %5s %-6s %-22s %12s %9s %9s %8s %9s %9s %9s\n", "engine", "round", "instr", "target", "requests/s", "p50", "p99",
		"ratio", "srv µs/r", "wrk µs/r", "cpu ratio")
	type roundKey struct {
		engine string
		round  int
	}
	static := map[roundKey]result{}
	for _, r := range all {
		if r.target == "static" {
			static[roundKey{r.engine, r.round}] = r
		}
	}
	ratios, cpuRatios := map[string][]float64{}, map[string][]float64{}
	var ratioOrder []string
	for _, r := range all {
		ratio, cpuRatio := "", ""
		if s, ok := static[roundKey{r.engine, r.round}]; ok && r.rps > 0 && s.rps > 0 && !r.openLoop {
			ratio, cpuRatio = fmt.Sprintf("%.2f", r.rps/s.rps), fmt.Sprintf("%.2f", r.cpuRatio(s))
			if r.target != "static" {
				k := fmt.Sprintf("%-9s %-6s %-22s", r.engine, r.instr, r.target)
				if ratios[k] == nil {
					ratioOrder = append(ratioOrder, k)
				}
				ratios[k] = append(ratios[k], r.rps/s.rps)
				cpuRatios[k] = append(cpuRatios[k], r.cpuRatio(s))
			}
		}
		round := strconv.Itoa(r.round + 1)
		fmt.Printf("%-9s %5s %-6s %-22s %12.0f %9s %9s %8s %9s %9s %9s\n", r.engine, round, r.instr, r.target, r.rps, ms(r.p50), ms(r.p99),
			ratio, us(r.srvCPU), us(r.wrkCPU), cpuRatio)
	}
	fmt.Printf("\n(wrk -t%d -c%d -d%s; ratio = rate / the static handler's rate on the same server in the same round;\n"+
		" srv and wrk µs/r: CPU time per request of the server process and of wrk (rusage); cpu ratio = static's\n"+
		" (srv + wrk) per request / the target's: the rate ratio on cores nothing else uses;\n"+
		" \"balance @ N/s\" is an open-loop run at half the balance rate, latency measured from the scheduled send time;\n"+
		" its srv µs/r is per request sent, the warm-up second's included)\n",
		o.threads, o.conns, o.dur)
	if o.rounds > 1 {
		fmt.Printf("\nratio to static, per round, and median:\n")
		for _, k := range ratioOrder {
			var per, perCPU []string
			for i := range ratios[k] {
				per = append(per, fmt.Sprintf("%.2f", ratios[k][i]))
				perCPU = append(perCPU, fmt.Sprintf("%.2f", cpuRatios[k][i]))
			}
			fmt.Printf("%s rate %s (median %.2f); cpu %s (median %.2f)\n", k, strings.Join(per, " "), median(ratios[k]),
				strings.Join(perCPU, " "), median(cpuRatios[k]))
		}
	}
	type olKey struct{ engine, instr, target string }
	var olOrder []olKey
	p99s, p99sReleased := map[olKey][]float64{}, map[olKey][]float64{}
	for _, r := range all {
		if r.openLoop {
			k := olKey{r.engine, r.instr, r.target}
			if p99s[k] == nil {
				olOrder = append(olOrder, k)
			}
			p99s[k] = append(p99s[k], float64(r.p99))
			p99sReleased[k] = append(p99sReleased[k], float64(r.p99Released))
		}
	}
	if len(olOrder) > 0 {
		fmt.Printf("\nopen loop at half the balance rate, p99 per round and median, from the schedule; from each release:\n")
		perRound := func(vs []float64) string {
			var per []string
			for _, v := range vs {
				per = append(per, ms(time.Duration(v)))
			}
			return fmt.Sprintf("%s (median %s)", strings.Join(per, " "), ms(time.Duration(median(vs))))
		}
		for _, k := range olOrder {
			fmt.Printf("%-9s %-6s %-22s %s; %s\n", k.engine, k.instr, k.target, perRound(p99s[k]), perRound(p99sReleased[k]))
		}
	}
	if len(o.modes) < 2 {
		return
	}
	// Instrumentation overhead: the mean rate of each setting over the
	// rounds (run in alternating order), on (or logs) / off.
	fmt.Printf("\ninstrumentation on vs off (mean of %d alternating rounds of wrk -d%s each; logs: on without tracing):\n", o.rounds, o.dur)
	fmt.Printf("%-9s %-16s %-5s %12s %12s %8s %8s %11s %9s %8s   %s\n", "engine", "target", "instr", "off req/s", "on req/s", "on/off", "lost",
		"cpu on/off", "cpu lost", "median", "per round on/off (rate)")
	type key struct{ engine, target string }
	var order []key
	rates, cpus := map[key]map[string][]float64{}, map[key]map[string][]float64{}
	for _, r := range all {
		if r.openLoop || r.target == "static" {
			continue
		}
		k := key{r.engine, r.target}
		if rates[k] == nil {
			rates[k], cpus[k] = map[string][]float64{}, map[string][]float64{}
			order = append(order, k)
		}
		rates[k][r.instr] = append(rates[k][r.instr], r.rps)
		cpus[k][r.instr] = append(cpus[k][r.instr], float64(r.srvCPU+r.wrkCPU))
	}
	for _, k := range order {
		for _, mode := range o.modes[1:] {
			off, on := rates[k]["off"], rates[k][mode]
			if len(off) == 0 || len(on) == 0 {
				continue
			}
			var per []string
			var perRound []float64
			for i := range min(len(off), len(on)) {
				per = append(per, fmt.Sprintf("%.3f", on[i]/off[i]))
				perRound = append(perRound, on[i]/off[i])
			}
			ratio := mean(on) / mean(off)
			// CPU per request (server and wrk) off over on: the rate ratio on
			// cores nothing else uses, which other load on the machine moves
			// far less than the rates.
			cpuRatio := mean(cpus[k]["off"]) / mean(cpus[k][mode])
			fmt.Printf("%-9s %-16s %-5s %12.0f %12.0f %8.3f %7.1f%% %11.3f %8.1f%% %8.3f   %s\n", k.engine, k.target, mode, mean(off), mean(on), ratio,
				100*(1-ratio), cpuRatio, 100*(1-cpuRatio), median(perRound), strings.Join(per, " "))
		}
	}
	if o.spans != nil {
		fmt.Printf("(spans exported to the counting exporter: %d)\n", o.spans.n.Load())
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func us(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/1000)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// countingExporter stands in for the OTLP exporter: it counts the spans the
// batching processor hands it and drops them.
type countingExporter struct{ n atomic.Int64 }

func (e *countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.n.Add(int64(len(spans)))
	return nil
}

func (e *countingExporter) Shutdown(context.Context) error { return nil }

// stack is the API served one way (instrumentation off or on) on its own
// server, beside a bare static handler.
type stack struct {
	instr string
	base  string
	econ  *economy.Service
	keys  *apikeys.Service
}

func benchEngine(engine string, o options) ([]result, error) {
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
		admin, err := sql.Open("pgx", o.pgURL)
		if err != nil {
			return nil, err
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, fmt.Errorf("create schema: %w", err)
		}
		defer admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		u, err := url.Parse(o.pgURL)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}

	var stacks []*stack
	var token string
	for i, mode := range o.modes {
		st, closeStack, err := serve(ctx, dbURL, mode)
		if err != nil {
			return nil, err
		}
		defer closeStack()
		if i == 0 {
			// One database: seeded once, read by every stack.
			fmt.Printf("%s: seeding %d accounts...\n", engine, o.accounts)
			for i := range o.accounts {
				if _, _, err := st.econ.EnsureAccount(ctx, guild, economy.Member{ID: int64(firstUser + i), Name: "member" + strconv.Itoa(i)}); err != nil {
					return nil, err
				}
			}
			if _, token, err = st.keys.Create(ctx, 0, apikeys.Spec{Name: "bench", Scope: apikeys.Read}); err != nil {
				return nil, err
			}
			if err := inProcessCosts(ctx, engine, st, token, o.accounts); err != nil {
				return nil, err
			}
		}
		stacks = append(stacks, st)
	}

	script, err := os.CreateTemp("", "benchapi-*.lua")
	if err != nil {
		return nil, err
	}
	defer os.Remove(script.Name())
	// A random member per request, from requests formatted once: formatting
	// each one in Lua costs wrk (on the same cores) about 10 % of a trivial
	// server's rate, which the static run, without a script, does not pay.
	fmt.Fprintf(script, `wrk.headers["Authorization"] = "Bearer %s"
local reqs = {}
init = function()
  for i = %d, %d do reqs[#reqs + 1] = wrk.format(nil, "/api/v1/guilds/%d/bytes/balances/" .. i) end
end
request = function()
  return reqs[math.random(#reqs)]
end
`, token, firstUser, firstUser+o.accounts-1, guild)
	script.Close()
	leaderboard := fmt.Sprintf("/api/v1/guilds/%d/bytes/leaderboard?limit=10", guild)

	// Check every target answers 200 before measuring (this also prepares
	// each stack's statements).
	for _, st := range stacks {
		for _, u := range []string{"/static", fmt.Sprintf("/api/v1/guilds/%d/bytes/balances/%d", guild, firstUser), leaderboard} {
			req, _ := http.NewRequest(http.MethodGet, st.base+u, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				return nil, fmt.Errorf("GET %s (instrumentation %s): %d", u, st.instr, res.StatusCode)
			}
		}
	}

	// The references every round measures first, outside any
	// instrumentation: the static handler on the API's server, and with
	// -targets raw the same body from a minimal responder (the floor).
	refs := []struct{ name, base string }{}
	if o.targets["static"] {
		refs = append(refs, struct{ name, base string }{"static", stacks[0].base})
	}
	if o.targets["raw"] {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		go serveRaw(ln)
		refs = append(refs, struct{ name, base string }{"raw", "http://" + ln.Addr().String()})
	}

	var out []result
	runWrk := func(st *stack, name string, args []string) (result, error) {
		args = append([]string{"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.conns), "-d", o.dur.String(), "--latency"}, args...)
		fmt.Printf("%s: wrk %s (instrumentation %s)\n", engine, name, st.instr)
		r, err := wrk(args)
		r.engine, r.instr, r.target = engine, st.instr, name
		return r, err
	}
	// One unmeasured second of wrk on every API target first: a fresh stack
	// opens its database connections and fills its account cache under the
	// first load, which otherwise lands in round 1's tail alone (PostgreSQL
	// balance p99 0.4-0.7 s in round 1, 7-14 ms after, 2026-11-23).
	for _, st := range stacks {
		warm := [][]string{{"-s", script.Name(), st.base + "/"}, {"-H", "Authorization: Bearer " + token, st.base + leaderboard}}
		for _, args := range warm {
			if _, err := wrk(append([]string{"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.conns), "-d", "1s"}, args...)); err != nil {
				return nil, fmt.Errorf("warm-up (instrumentation %s): %w", st.instr, err)
			}
		}
	}
	balanceRates := map[string][]float64{}
	for round := range o.rounds {
		for _, ref := range refs {
			r, err := runWrk(stacks[0], ref.name, []string{ref.base + "/static"})
			if err != nil {
				return nil, err
			}
			r.instr, r.round = "-", round
			out = append(out, r)
		}
		// Alternate which setting runs first (and, with three, rotate them).
		order := slices.Clone(stacks)
		if len(order) == 2 && round%2 == 1 {
			slices.Reverse(order)
		} else if len(order) > 2 {
			k := round % len(order)
			order = append(order[k:], order[:k]...)
		}
		for _, st := range order {
			if o.targets["balance"] {
				r, err := runWrk(st, "GET balance", []string{"-s", script.Name(), st.base + "/"})
				if err != nil {
					return nil, err
				}
				r.round = round
				out = append(out, r)
				balanceRates[st.instr] = append(balanceRates[st.instr], r.rps)
			}
			if o.targets["leaderboard"] {
				r, err := runWrk(st, "GET leaderboard", []string{"-H", "Authorization: Bearer " + token, st.base + leaderboard})
				if err != nil {
					return nil, err
				}
				r.round = round
				out = append(out, r)
			}
		}
	}
	if !o.openLoop || len(balanceRates) == 0 {
		return out, nil
	}
	// Every setting is offered the same rate: half the first setting's.
	half := mean(balanceRates[stacks[0].instr]) / 2
	// The server's CPU per request sent (the warm-up second's included) shows
	// what open-loop traffic, arriving request by request, costs against
	// wrk's closed loop, from whose rate half is taken.
	openLoopRun := func(base, target string) (result, error) {
		cpu0 := selfCPU()
		st, err := fixedRateProcess(base, target, token, o.accounts, half, o.dur)
		if err != nil {
			return result{}, err
		}
		return result{engine: engine, rps: st.Achieved, p50: st.P50, p99: st.P99, p99Released: st.P99Released, openLoop: true,
			srvCPU: (selfCPU() - cpu0) / time.Duration(max(1, st.Sent))}, nil
	}
	// Rounds alternate the static reference and the API at the same rate,
	// so that a noisy moment of the machine shows in both.
	for round := range o.rounds {
		for _, ref := range refs {
			fmt.Printf("%s: %s at %.0f/s (open loop)\n", engine, ref.name, half)
			r, err := openLoopRun(ref.base, "static")
			if err != nil {
				return nil, err
			}
			r.instr, r.target, r.round = "-", fmt.Sprintf("%s @ %.0f/s", ref.name, half), round
			out = append(out, r)
		}
		for _, st := range stacks {
			fmt.Printf("%s: balance reads at %.0f/s (open loop, instrumentation %s)\n", engine, half, st.instr)
			stopTrace, err := startTrace(fmt.Sprintf("%s-%s-%d", engine, st.instr, round+1))
			if err != nil {
				return nil, err
			}
			r, err := openLoopRun(st.base, "balance")
			if err := errors.Join(err, stopTrace()); err != nil {
				return nil, err
			}
			r.instr, r.target, r.round = st.instr, fmt.Sprintf("balance @ %.0f/s", half), round
			out = append(out, r)
		}
	}
	return out, writeHeapProfile(engine)
}

// memProfilePrefix is -memprofile: where writeHeapProfile writes.
var memProfilePrefix string

// writeHeapProfile writes the live heap while the engine's stacks are still
// open: its size sets how long each collection marks, which on the server's
// one core is a stall for the requests behind it.
func writeHeapProfile(engine string) error {
	if memProfilePrefix == "" {
		return nil
	}
	f, err := os.Create(memProfilePrefix + "-" + engine + ".heap")
	if err != nil {
		return err
	}
	runtime.GC()
	return errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
}

// serve serves newStack's handler on a new server.
func serve(ctx context.Context, dbURL, instr string) (*stack, func(), error) {
	st, h, closeStack, err := newStack(ctx, dbURL, instr)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		closeStack()
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	st.base = "http://" + ln.Addr().String()
	return st, func() { _ = srv.Close(); closeStack() }, nil
}

// staticBody is what GET /static answers, the size of a balance.
const staticBody = `{"guild_id":"1","user_id":"1000000","balance":100,"total_received":0,"total_sent":0,"streak":0}` + "\n"

// serveRaw answers every request on ln with staticBody, as a minimal
// HTTP/1.1 server would: a goroutine per connection reading headers up to
// the blank line and writing a response built once. It does none of
// net/http's per-request work (a background read to notice a closed
// connection, header maps, a Date header), so the gap between it and the
// static handler at the same open-loop rate is what net/http costs the
// tail, and its own p99 is the floor of the machine and the generator.
func serveRaw(ln net.Listener) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(staticBody)) + "\r\n\r\n" + staticBody)
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 4<<10)
			for {
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 {
						break
					}
				}
				if _, err := conn.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

// newStack opens the database and the services for one instrumentation
// setting and returns the handler of the API and the static handler.
func newStack(ctx context.Context, dbURL, instr string) (*stack, http.Handler, func(), error) {
	on := instr != "off" // "on" or "logs"
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	// The pool of a server started without SMARTERDEV_DATABASE_MAX_CONNS: each
	// open connection is live heap that every collection marks.
	db, err := store.Open(ctx, dbURL, store.Options{MaxConns: config.DefaultDatabaseMaxConns, Uninstrumented: !on})
	if err != nil {
		return nil, nil, nil, err
	}
	closers = append(closers, func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	b := bus.NewMemory()
	closers = append(closers, func() { _ = b.Close() })
	// Off: errors only (wrk cuts connections at the end of a run, which the
	// API logs as canceled requests). On: the production logger (JSON, info)
	// writing as a server does (app.serverLogs), through logging.Buffered to
	// a file: /dev/null, so that formatting and the write system calls are
	// paid, not a disk (-unbuffered-logs: a write per line).
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	if on {
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		var out io.Writer = devNull
		closers = append(closers, func() { _ = devNull.Close() })
		if !unbufferedLogs {
			b := logging.NewBuffered(devNull)
			closers = append(closers, func() { _ = b.Close() })
			out = b
		}
		// With secrets to mask, as production's logger has (bot token, OAuth
		// client secret, database URL with its password).
		log = logging.New(out, logging.Options{Format: "json", Level: slog.LevelInfo, Secrets: []string{
			"MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789ABCD",
			"q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6",
			"postgres://smarterdev:s3cret-passw0rd@db.internal:5432/smarterdev",
		}})
	}
	econ := economy.NewService(db, b, economy.Options{Logger: log, AccountTTL: accountTTL})
	keys := apikeys.NewService(db, nil)
	// The real API handler; the per-key rate limit (20/s by default) is
	// raised so that it measures, not throttles, and still runs per request.
	h, err := api.New(api.Deps{DB: db, Economy: econ, Squads: squads.NewService(db, econ), Keys: keys,
		Idempotency: idempotency.NewStore(db, nil), Limiter: ratelimit.NewMemory(nil),
		Limit: ratelimit.Limit{Rate: 1_000_000, Burst: 1_000_000}, Logger: log.With("component", "api"), Version: "bench"})
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	if on {
		// As app.instrument wraps the web role's routes.
		slo := web.NewSLOCounter(db, nil)
		sloCtx, stopSLO := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = slo.Run(sloCtx) }()
		closers = append(closers, func() { stopSLO(); <-done })
		h = app.InstrumentHTTP(h, log, slo, instr == "on" && telemetry.Enabled())
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", h)
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(staticBody))
	})
	return &stack{instr: instr, econ: econ, keys: keys}, mux, closeAll, nil
}

// inProcessCosts prints the cost of the two lookups a balance read makes,
// one at a time, in process.
func inProcessCosts(ctx context.Context, engine string, st *stack, token string, accounts int) error {
	const n = 3000
	t0 := time.Now()
	for range n {
		if _, err := st.keys.Authenticate(ctx, token); err != nil {
			return err
		}
	}
	authCost := time.Since(t0) / n
	t0 = time.Now()
	for i := range n {
		if _, err := st.econ.Balance(ctx, guild, int64(firstUser+i%accounts)); err != nil {
			return err
		}
	}
	balCost := time.Since(t0) / n
	fmt.Printf("%s: in process, one at a time: API key lookup %s/op, account read %s/op\n", engine, authCost, balCost)
	return nil
}

var (
	reqSec  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	non2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	// "  123456 requests in 5.00s, 12.34MB read"
	requests = regexp.MustCompile(`(\d+) requests in `)
)

// selfCPU is the CPU time this process has used (the server, and whatever
// else runs in it: idle during wrk).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func wrk(args []string) (result, error) {
	cmd := loadCommand("wrk", args...)
	self0 := selfCPU()
	b, err := cmd.CombinedOutput()
	self := selfCPU() - self0
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
	if n := requests.FindStringSubmatch(s); n != nil {
		if total, _ := strconv.ParseFloat(n[1], 64); total > 0 {
			r.srvCPU = time.Duration(float64(self) / total)
			r.wrkCPU = time.Duration(float64(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()) / total)
		}
	}
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

// loadCPUs are the CPUs of the load generators (-load-cpus); empty: any.
var loadCPUs string

// holdCPULatency asks the kernel's PM QoS for CPU wake-ups within us
// microseconds until release: with 0 an idle CPU polls rather than halts,
// so that a request arriving at an idle core does not first wait for the
// hypervisor to run the halted vCPU again. The request lasts while the file
// stays open, so a crashed run leaves nothing behind.
func holdCPULatency(us int) (release func(), err error) {
	f, err := os.OpenFile("/dev/cpu_dma_latency", os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("-cpu-dma-latency: %w", err)
	}
	if _, err := f.Write(binary.NativeEndian.AppendUint32(nil, uint32(us))); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpu-dma-latency: %w", err)
	}
	return func() { f.Close() }, nil
}

// isDir tells whether path names a directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// tracePrefix names the runtime traces of the open-loop balance runs (-trace).
var tracePrefix string

// startTrace records the server's runtime trace into tracePrefix-name.trace
// until the returned function is called; without -trace it does nothing.
// The tail's causes (a collection, a goroutine waiting for the one P, the
// thread itself descheduled) can be told apart there.
func startTrace(name string) (stop func() error, err error) {
	if tracePrefix == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(tracePrefix + "-" + name + ".trace")
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		trace.Stop()
		return f.Close()
	}, nil
}

// accountTTL is the balance cache's TTL (-account-ttl; 0: the product's).
var accountTTL time.Duration

// unbufferedLogs writes each log line with a write of its own
// (-unbuffered-logs), as servers did before logging.Buffered.
var unbufferedLogs bool

// pinnedEnv marks the process pinSelf started, so that it does not pin again.
const pinnedEnv = "BENCHAPI_PINNED"

// serverNice and serverRT set the server's scheduling (-server-nice,
// -server-rt): whether a shared core's other tenants (brokers, kernel
// threads) stop delaying the server once it outranks them.
var serverNice, serverRT int

// pinSelf runs this command again under taskset on cpus (when set) and under
// nice or chrt (when -server-nice or -server-rt), and returns its outcome:
// with -load-cpus on other CPUs, the server and the generators no longer take
// each other's cores, as on separate machines.
func pinSelf(cpus string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append([]string{self}, os.Args[1:]...)
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	argv = append(schedulingPrefix(true), argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv[:len(argv)-len(os.Args)], " "), err)
	}
	return nil
}

// loadCommand is the command of a load generator: under taskset when
// -load-cpus is set, and back at the caller's scheduling when the server's
// was raised, so that only the server outranks the machine's other tenants.
func loadCommand(name string, args ...string) *exec.Cmd {
	argv := append([]string{name}, args...)
	if loadCPUs != "" {
		argv = append([]string{"taskset", "-c", loadCPUs}, argv...)
	}
	argv = append(schedulingPrefix(false), argv...)
	return exec.Command(argv[0], argv[1:]...)
}

// schedulingPrefix is the command that runs the server at -server-nice or
// -server-rt (server) or brings a generator, its child, back to the
// caller's scheduling; nil when neither flag is set.
func schedulingPrefix(server bool) []string {
	switch {
	case serverNice != 0 && server:
		return []string{"nice", "-n", strconv.Itoa(serverNice)}
	case serverNice != 0:
		return []string{"nice", "-n", strconv.Itoa(-serverNice)}
	case serverRT != 0 && server:
		return []string{"chrt", "-f", strconv.Itoa(serverRT)}
	case serverRT != 0:
		return []string{"chrt", "-o", "0"}
	}
	return nil
}

// loadgenArg runs this binary as the open-loop load generator: in a process
// of its own, its goroutines and garbage do not pause the server it measures
// (they still share the machine's cores, as wrk does).
const loadgenArg = "-loadgen"

// fixedRateProcess runs fixedRate in a child process of this binary.
func fixedRateProcess(base, target, token string, accounts int, rate float64, dur time.Duration) (openLoopStats, error) {
	self, err := os.Executable()
	if err != nil {
		return openLoopStats{}, err
	}
	out, err := loadCommand(self, loadgenArg, base, target, token, strconv.Itoa(accounts), strconv.FormatFloat(rate, 'f', 3, 64), dur.String()).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return openLoopStats{}, fmt.Errorf("load generator: %w: %s", err, ee.Stderr)
		}
		return openLoopStats{}, fmt.Errorf("load generator: %w", err)
	}
	var r openLoopStats
	if err := json.Unmarshal(out, &r); err != nil {
		return openLoopStats{}, fmt.Errorf("load generator answered %q: %w", out, err)
	}
	return r, nil
}

// openLoopStats is what the open-loop generator measured. P50 and P99 count
// from each request's scheduled time; P99Released from the moment the
// generator released it, which leaves out the generator's own timer
// lateness (releases come about a millisecond apart) and keeps every wait
// the server causes, a free connection's included.
type openLoopStats struct {
	P50, P99, P99Released time.Duration
	Achieved              float64
	Sent                  int // every request, the warm-up's included
}

// loadgen is the child's side: base target token accounts rate duration.
func loadgen(args []string) error {
	if len(args) != 6 {
		return errors.New("loadgen: want base target token accounts rate duration")
	}
	accounts, err1 := strconv.Atoi(args[3])
	rate, err2 := strconv.ParseFloat(args[4], 64)
	dur, err3 := time.ParseDuration(args[5])
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	r, err := fixedRate(args[0], args[1], args[2], accounts, rate, dur)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// fixedRate sends GET balance (or the static handler) at rate per second
// for dur, each request at its scheduled time (open loop, so a slow response
// does not hide queueing), and returns the latency percentiles measured from
// the scheduled time. Like wrk2, and unlike a net/http client, whose CPU per
// request is as large as the server's and which on two shared cores made the
// generator its own bottleneck (p99 15-25 ms for the static handler at half
// the balance rate, against 3-4 ms with this one), it writes requests built
// once on 64 kept-alive connections and reads the answers with a minimal
// HTTP/1.1 parser. A request that waits for a free connection counts its
// wait in its latency.
func fixedRate(base, target, token string, accounts int, rate float64, dur time.Duration) (openLoopStats, error) {
	if rate <= 0 {
		return openLoopStats{}, errors.New("no rate to offer")
	}
	const conns = 64
	u, err := url.Parse(base)
	if err != nil {
		return openLoopStats{}, err
	}
	reqs := make([][]byte, accounts)
	for i := range reqs {
		path := fmt.Sprintf("/api/v1/guilds/%d/bytes/balances/%d", guild, firstUser+i)
		if target == "static" {
			path = "/static"
		}
		reqs[i] = []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	}
	interval := time.Duration(float64(time.Second) / rate)
	n := int(dur / interval)
	// A warm-up second at the same rate comes first and is not measured:
	// the steady state is what is measured, not connections and caches
	// filling (the API's balance cache starts empty in every round).
	warm := int(time.Second / interval)
	type ticket struct {
		at, released time.Time
		measure      bool
	}
	tickets := make(chan ticket, n+warm)
	lats, latsReleased := make([][]time.Duration, conns), make([][]time.Duration, conns)
	var failures atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for c := range conns {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			return openLoopStats{}, err
		}
		defer conn.Close()
		lats[c] = make([]time.Duration, 0, n/conns*2)
		latsReleased[c] = make([]time.Duration, 0, n/conns*2)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			br := bufio.NewReaderSize(conn, 16<<10)
			for t := range tickets {
				if _, err := conn.Write(reqs[rng.IntN(accounts)]); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				if err := readResponse(br); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				if t.measure {
					end := time.Now()
					lats[c] = append(lats[c], end.Sub(t.at))
					latsReleased[c] = append(latsReleased[c], end.Sub(t.released))
				}
			}
		})
	}
	// Tickets are released in small batches rather than one timer per
	// request; a request released late counts the delay. The sleep asks for
	// 100 µs, and Go's timers give about 1.1 ms on the benchmark machine:
	// releases come in bursts a millisecond apart, and every latency
	// includes up to that much of the generator's own wait (a bare net/http
	// server measured p50 0.66 ms, p99 1.5 ms at 2,000 requests/s). Sleeping
	// in nanosleep(2) on a locked thread woke in time, but at 17,000/s its
	// thread waiting for the runtime made the tail worse (p99 3.2-8 ms
	// against 2.6-2.7 ms), so the batches stay, and the p99 from each
	// release is reported beside the p99 from the schedule.
	begin := time.Now()
	var start time.Time
	for i := 0; i < n+warm; {
		now := time.Now()
		for ; i < n+warm; i++ {
			at := begin.Add(time.Duration(i) * interval)
			if at.After(now) {
				break
			}
			if i == warm {
				start = at
			}
			tickets <- ticket{at, now, i >= warm}
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(tickets)
	wg.Wait()
	elapsed := time.Since(start)
	if f := failures.Load(); f > 0 {
		return openLoopStats{}, fmt.Errorf("%d of %d requests failed, first: %v", f, n+warm, *firstErr.Load())
	}
	lat, latReleased := slices.Concat(lats...), slices.Concat(latsReleased...)
	slices.Sort(lat)
	slices.Sort(latReleased)
	pct := func(lat []time.Duration, p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return openLoopStats{P50: pct(lat, 0.50), P99: pct(lat, 0.99), P99Released: pct(latReleased, 0.99),
		Achieved: float64(len(lat)) / elapsed.Seconds(), Sent: n + warm}, nil
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// fails unless its status is 200.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || string(line[9:12]) != "200" {
		return fmt.Errorf("status line %q", line)
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && (line[0] == 'C' || line[0] == 'c') && strings.EqualFold(string(line[:15]), "content-length:") {
			if length, err = strconv.Atoi(strings.TrimSpace(string(line[15:]))); err != nil {
				return fmt.Errorf("content-length %q", line)
			}
		}
	}
	if length < 0 {
		return errors.New("response without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}
