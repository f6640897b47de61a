package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return body
}

// /metrics serves the product's metrics in the Prometheus text format, with
// route patterns (never raw paths) as labels, and promtool accepts it.
func TestMetricsEndpoint(t *testing.T) {
	r := start(t, sqliteEnv(t), "serve")
	get(t, "http://"+r.addr+"/livez")
	get(t, "http://"+r.addr+"/nope/12345")
	scrape(t, r.addr)
	body := scrape(t, r.addr) // the second scrape sees the first one counted

	for _, want := range []string{
		// Counters are process-wide: other tests in this binary add to them.
		`smarterdev_http_requests_total{code="200",method="GET",route="/livez"} `,
		`smarterdev_http_requests_total{code="404",method="GET",route="unmatched"} `,
		`smarterdev_http_request_duration_seconds_bucket{method="GET",route="/metrics",le="0.3"}`,
		`smarterdev_http_requests_in_flight `,
		`smarterdev_db_pool_connections{pool="write",state="in_use"}`,
		`smarterdev_db_query_duration_seconds_count{query="OutboxPendingCount"}`,
		`smarterdev_outbox_pending_jobs 0`,
		`smarterdev_bus_queue_jobs{queue="roles",state="dead"} 0`,
		`smarterdev_economy_circulating_amount 0`,
		`smarterdev_engagement_daily_active_members 0`,
		`smarterdev_squads_membership_changes_total{change="join"}`,
		`go_goroutines `,
		`process_cpu_seconds_total `,
		`smarterdev_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The path, not its number: "12345" also turns up in sample values.
	if strings.Contains(body, "/nope") {
		t.Errorf("/metrics carries a raw path: %s", regexp.MustCompile(`.*/nope.*`).FindAllString(body, -1))
	}
	promtoolCheckMetrics(t, body)
	checkDeployNames(t, body)
}

// requireTool returns the path of an external checker, skipping the test
// when it is missing unless SMARTERDEV_REQUIRE_SERVICES=1 (CI installs it).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if storetest.RequireServices() {
			t.Fatalf("%s is not on PATH (Debian package prometheus)", name)
		}
		t.Skipf("%s is not on PATH", name)
	}
	return path
}

func promtoolCheckMetrics(t *testing.T, body string) {
	t.Helper()
	path := requireTool(t, "promtool")
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// checkDeployNames fails on a metric name used by the Prometheus rules or the
// Grafana dashboards that the product does not define: a typo there would
// silently show nothing. Defined means in the scrape, or registered but not
// yet observed (the gateway metrics until the bot arrives); names with a
// colon must be recorded by a recording rule.
func checkDeployNames(t *testing.T, scraped string) {
	t.Helper()
	known := map[string]bool{}
	for _, line := range strings.Split(scraped, "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			known[f[2]] = true
		}
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range metrics.Collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			known[m[1]] = true
		}
	}
	var files []string
	for _, pattern := range []string{"../../deploy/prometheus/*.yml", "../../deploy/prometheus/tests/*.yml", "../../deploy/grafana/*.json"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("deploy files not found: %v", files)
	}
	recorded := map[string]bool{}
	recordRe := regexp.MustCompile(`(?m)^\s*-?\s*record:\s*(\S+)`)
	var all string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
		for _, m := range recordRe.FindAllStringSubmatch(string(b), -1) {
			recorded[m[1]] = true
		}
	}
	nameRe := regexp.MustCompile(`\b(smarterdev[a-z0-9_:]*|go_[a-z0-9_]+|process_[a-z0-9_]+)`)
	var unknown []string
	seen := map[string]bool{}
	for _, n := range nameRe.FindAllString(all, -1) {
		if seen[n] || n == "smarterdev" {
			continue
		}
		seen[n] = true
		if strings.Contains(n, ":") {
			if !recorded[n] {
				unknown = append(unknown, n+" (no recording rule)")
			}
			continue
		}
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && known[b] {
				base = b
			}
		}
		if !known[base] && !isLabelOrText(n) {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("deploy/ uses metrics the product does not define: %s", strings.Join(unknown, ", "))
	}
}

// isLabelOrText allows words that look like names but are not metrics: the
// dashboards' uid and tags, alert names, the job label.
func isLabelOrText(n string) bool {
	return slices.Contains([]string{"smarterdev_operations", "smarterdev_business", "smarterdev_slo"}, n)
}

// Every request gets an id (the client's when sane) echoed in the response
// and quoted by its access log line, with the route pattern and status.
func TestRequestIDAndAccessLog(t *testing.T) {
	r := start(t, sqliteEnv(t), "serve")
	req, _ := http.NewRequest("GET", "http://"+r.addr+"/livez", nil)
	req.Header.Set("X-Request-Id", "client-id-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-123" {
		t.Fatalf("echoed id %q", got)
	}
	req.Header.Set("X-Request-Id", "bad id with spaces")
	req.URL.Path = "/readyz"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	generated := resp.Header.Get("X-Request-Id")
	if generated == "" || strings.Contains(generated, " ") {
		t.Fatalf("generated id %q", generated)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := accessLines(r.stderr.String())
		if l, ok := lines[generated]; ok {
			if l["route"] != "/readyz" || l["method"] != "GET" || l["status"] != float64(200) || l["duration_ms"] == nil {
				t.Fatalf("access log line %v", l)
			}
			if _, ok := lines["client-id-123"]; !ok {
				t.Fatal("no access log line for the client's id")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for %s: %s", generated, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func accessLines(logs string) map[string]map[string]any {
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "http request" {
			id, _ := m["request_id"].(string)
			out[id] = m
		}
	}
	return out
}

// The log level changes at run time from loopback, and never through a proxy.
func TestLogLevelEndpoint(t *testing.T) {
	env := sqliteEnv(t)
	env[config.EnvLogLevel] = "info"
	r := start(t, env, "serve")
	base := "http://" + r.addr + "/debug/log-level"

	post := func(query string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", base+query, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(t, base); code != 200 || !strings.Contains(body, `"INFO"`) {
		t.Fatalf("GET: %d %s", code, body)
	}
	if code, _ := post("?level=debug", map[string]string{"X-Forwarded-For": "203.0.113.9"}); code != http.StatusForbidden {
		t.Fatalf("through a proxy: %d", code)
	}
	if code, _ := post("?level=loud", nil); code != http.StatusBadRequest {
		t.Fatalf("bad level: %d", code)
	}
	// At info, probes are not logged; at debug they are.
	probe := func(id string) {
		req, _ := http.NewRequest("GET", "http://"+r.addr+"/livez", nil)
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	probe("before-debug-1")
	if code, body := post("?level=debug", nil); code != 200 || !strings.Contains(body, `"DEBUG"`) {
		t.Fatalf("POST: %d %s", code, body)
	}
	probe("after-debug-1")
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := accessLines(r.stderr.String())
		if _, ok := lines["after-debug-1"]; ok {
			if _, ok := lines["before-debug-1"]; ok {
				t.Fatal("a probe was logged at info level")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no debug access line after the change: %s", r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A request that causes a job: the job's consumer span belongs to the
// request's trace, carried by the outbox row's headers through the relay and
// the bus; the access log line quotes the same trace id.
func TestTraceFollowsJobThroughOutbox(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	telemetry.Install(tp)

	cfg, err := config.Load(envOf(sqliteEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &buffer{}
	var a *App
	wrap := func(next http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /test/guilds/{guild}/join", func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			sq, err := a.services.Squads.Create(ctx, 7, 1, squads.NewSpec("Red", 77))
			if err == nil {
				_, err = a.services.Squads.Join(ctx, 7, economy.Member{ID: 42, Name: "ann"}, sq.ID)
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_, _ = io.WriteString(w, "joined")
		})
		mux.Handle("/", next)
		return logging.CaptureRoute(mux)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err = Start(ctx, cfg, Options{Role: RoleServe, WrapHandler: wrap,
		Logger: logging.New(logs, logging.Options{Format: "json", Level: new(slog.LevelVar)})})
	if err != nil {
		t.Fatal(err)
	}
	consumed := make(chan struct{}, 4)
	go func() {
		_ = a.bus.Consume(ctx, jobs.QueueRoles, bus.ConsumeOptions{}, func(context.Context, bus.Job) error {
			consumed <- struct{}{}
			return nil
		})
	}()

	resp, err := http.Post("http://"+a.Addr()+"/test/guilds/7/join", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("join: %d %s", resp.StatusCode, body)
	}

	var server, consumer, insert *tracetest.SpanStub
	deadline := time.Now().Add(10 * time.Second)
	for consumer == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no consumer span in the request's trace; spans: %v", spanNames(exp.GetSpans()))
		}
		time.Sleep(20 * time.Millisecond)
		spans := exp.GetSpans()
		server, consumer, insert = nil, nil, nil
		for i := range spans {
			s := &spans[i]
			if s.SpanKind == trace.SpanKindServer && s.Name == "POST /test/guilds/{guild}/join" {
				server = s
			}
		}
		if server == nil {
			continue
		}
		for i := range spans {
			s := &spans[i]
			if s.SpanContext.TraceID() != server.SpanContext.TraceID() {
				continue
			}
			switch {
			case s.Name == "roles process" && s.SpanKind == trace.SpanKindConsumer:
				consumer = s
			case s.Name == "InsertOutbox":
				insert = s
			}
		}
	}
	if insert == nil {
		t.Errorf("no InsertOutbox query span in the trace: %v", spanNames(exp.GetSpans()))
	}
	traceID := server.SpanContext.TraceID().String()
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `"trace_id":"`+traceID+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with trace id %s: %s", traceID, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s(%s)", s.Name, s.SpanContext.TraceID()))
	}
	return out
}
