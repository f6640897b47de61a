package logging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type secretValuer struct{}

func (secretValuer) LogValue() slog.Value { return slog.StringValue("dsn with hunter2secret inside") }

// Secrets are masked wherever an attribute can come from: With, groups,
// LogValuers, context fields, errors, the message; a line without any is
// written as it is.
func TestRedactionEverywhere(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		log := New(&b, Options{Format: format, Secrets: []string{"hunter2secret"}}).
			With("password", "p", "dsn", "x:hunter2secret@y").WithGroup("g")
		ctx := With(context.Background(), "field", "hunter2secret")
		log.InfoContext(ctx, "m hunter2secret", slog.Group("inner", "token", "t", "url", "a/hunter2secret", "ok", "fine"),
			"valuer", secretValuer{}, "err", errors.New("e hunter2secret"), "n", 3)
		log.Info("clean line", "ok", "fine")
		out := b.String()
		if strings.Contains(out, "hunter2secret") || strings.Contains(out, "=p ") || strings.Contains(out, `"p"`) || strings.Contains(out, `"t"`) {
			t.Fatalf("%s: secret leaked: %s", format, out)
		}
		for _, want := range []string{"fine", "clean line", Redacted} {
			if !strings.Contains(out, want) {
				t.Fatalf("%s: %q missing: %s", format, want, out)
			}
		}
	}
}
