package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/logging"
)

// go-redis's own lines (here: a TTL under its 1 ms precision, which it
// reports deterministically; during an outage, "failed to dial") go to the
// process logger as JSON warnings, not to stderr in go-redis's format.
func TestGoRedisLogsThroughSlog(t *testing.T) {
	redistest.Options(t) // skips without Redis, fails with SMARTERDEV_REQUIRE_SERVICES=1
	env := sqliteEnv(t)
	env[config.EnvRedisURL] = os.Getenv("SMARTERDEV_TEST_REDIS_URL")
	cfg, err := config.Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	logs := &buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, cfg, Options{Role: RoleWeb, Logger: logging.New(logs, logging.Options{Format: "json", Level: slog.LevelInfo})})
	if err != nil {
		t.Fatal(err)
	}
	key := "smarterdev:test:redislog:" + time.Now().Format(time.RFC3339Nano)
	if err := a.redis.Set(ctx, key, "v", 500*time.Microsecond).Err(); err != nil {
		t.Fatal(err)
	}
	var found map[string]any
	for l := range strings.Lines(logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(m["msg"].(string), "truncating to 1ms") {
			found = m
		}
	}
	if found == nil || found["level"] != "WARN" || found["component"] != "go-redis" {
		t.Errorf("go-redis's line as a record: %v; logs:\n%s", found, logs)
	}
	cancel()
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
}
