package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// A library's Printf line (go-redis's, through redis.SetLogger) becomes a
// record of the process logger at the adapter's level, with the configured
// secrets and any URL credentials masked; below the logger's level it is
// dropped.
func TestPrintf(t *testing.T) {
	var b bytes.Buffer
	log := New(&b, Options{Secrets: []string{"s3cr3t-redis-pw"}})
	p := Printf{Logger: log.With("component", "go-redis"), Level: slog.LevelWarn}
	p.Printf(context.Background(), "redis: connection pool: failed to dial %s after %d attempts: %v\n",
		"redis://default:s3cr3t-redis-pw@10.0.0.7:6379/0", 5, "dial tcp 10.0.0.7:6379: connect: connection refused (password s3cr3t-redis-pw)")
	m := lastLine(t, &b)
	want := "redis: connection pool: failed to dial redis://[redacted]@10.0.0.7:6379/0 after 5 attempts: " +
		"dial tcp 10.0.0.7:6379: connect: connection refused (password [redacted])"
	if m["level"] != "WARN" || m["component"] != "go-redis" || m["msg"] != want {
		t.Errorf("record %v, want a WARN go-redis record %q", m, want)
	}
	// A password the configuration does not know (another URL) is masked too.
	p.Printf(context.TODO(), "sentinel: new master %q", "redis://ops:not-configured@10.0.0.8:6379")
	if m := lastLine(t, &b); m["msg"] != `sentinel: new master "redis://[redacted]@10.0.0.8:6379"` {
		t.Errorf("msg %q", m["msg"])
	}
	if strings.Contains(b.String(), "s3cr3t-redis-pw") || strings.Contains(b.String(), "not-configured") {
		t.Fatalf("secret leaked: %s", b.String())
	}

	b.Reset()
	Printf{Logger: New(&b, Options{Level: slog.LevelError}), Level: slog.LevelWarn}.Printf(context.Background(), "quiet %d", 1)
	if b.Len() != 0 {
		t.Errorf("logged below the logger's level: %s", b.String())
	}
}
