package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/smarterdev/smarterdev/internal/health"
)

// Printf logs for a library that prints unstructured lines through
// Printf(ctx, format, args...), such as go-redis (redis.SetLogger): each
// line becomes one record of Logger at Level, its text the message, so it
// goes through the same handler as every other line (JSON, configured
// secrets masked, the context's fields and trace id) instead of the
// library's own stderr output. A formatted line has no attribute keys to
// recognise a secret by, so URL credentials and key=value passwords in it
// are masked as well, as in readiness errors (health.Scrub).
type Printf struct {
	Logger *slog.Logger
	Level  slog.Level
}

// Printf implements go-redis's internal.Logging.
func (p Printf) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !p.Logger.Enabled(ctx, p.Level) {
		return
	}
	p.Logger.Log(ctx, p.Level, strings.TrimSpace(health.Scrub(fmt.Sprintf(format, v...))))
}
