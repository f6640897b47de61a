// Command smarterdev is the one binary of Smarter Dev; everything it does is
// in internal/app, so tests can run the same program in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/smarterdev/smarterdev/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal starts the graceful shutdown, restore the default
	// handling so that a second one ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	code := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
