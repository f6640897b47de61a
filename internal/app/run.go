package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/logging"
)

// Exit codes of Run.
const (
	ExitOK      = 0
	ExitFailure = 1 // something failed at runtime: database down, port taken, old schema
	ExitUsage   = 2 // the command line or the configuration is wrong
)

// Run is the whole program: main only adds the signal context and os.Exit.
// It returns the exit code; failures print one line, "smarterdev: ...", on
// stderr, without usage dumps or stack traces.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(getenv, stdout, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(stderr, "smarterdev: %s\n", oneLine(ee.Error()))
		return ee.code
	}
	// Anything else comes from cobra itself: unknown command, flag or argument.
	fmt.Fprintf(stderr, "smarterdev: %s (see \"smarterdev --help\")\n", oneLine(err.Error()))
	return ExitUsage
}

// exitError carries the exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageError(err error) error { return &exitError{code: ExitUsage, msg: err.Error()} }

// failure reports a runtime error with every secret of cfg scrubbed from it:
// drivers sometimes quote the URL they failed to reach.
func failure(cfg config.Config, err error) error {
	return &exitError{code: ExitFailure, msg: health.Scrub(err.Error(), cfg.Secrets()...)}
}

// oneLine folds a multi-line error (errors.Join, driver details) into the
// single line operators and log collectors expect.
func oneLine(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteByte(' ')
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// env is what the commands share: how to read the configuration and where to write.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	logs           io.Writer // where the logger writes; nil: stderr
}

// serverLogs returns e with the logger's output buffered (logging.Buffered)
// when it is a file, the process's stderr, as a server's is: a server
// writes a line per request. done writes out what is left when the role
// stops.
func (e env) serverLogs() (_ env, done func()) {
	f, ok := e.stderr.(*os.File)
	if !ok {
		return e, func() {}
	}
	b := logging.NewBuffered(f)
	e.logs = b
	return e, func() { _ = b.Close() }
}

// setup loads the configuration and builds the logger; a bad configuration is
// a usage error (exit 2), reported as Load's one line.
func (e env) setup() (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return config.Config{}, nil, usageError(err)
	}
	w := e.logs
	if w == nil {
		w = e.stderr
	}
	return cfg, newLogger(cfg, w), nil
}

// newLogger builds the process logger (internal/logging): JSON or text,
// secrets masked, context fields added, level changeable at run time.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	lv := new(slog.LevelVar)
	lv.Set(cfg.LogLevel)
	return logging.New(w, logging.Options{Format: cfg.LogFormat, Level: lv, Secrets: logSecrets(cfg)})
}

func newRootCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	e := env{getenv: getenv, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "smarterdev",
		Short: "Smarter Dev: Discord bot, web dashboard and REST API over one database",
		Long: "Smarter Dev: Discord bot, web dashboard and REST API over one database.\n\n" +
			"Configuration comes from SMARTERDEV_* environment variables; every secret\n" +
			"is also accepted as SMARTERDEV_..._FILE, the path of a file holding it.",
		Version:           versionLine(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE:              helpAndFail,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(
		roleCommand(e, RoleServe, "Run every role (web, bot, worker) in one process"),
		roleCommand(e, RoleWeb, "Serve the dashboard, the REST API, Discord interactions and health"),
		roleCommand(e, RoleBot, "Hold the Discord gateway shards"),
		roleCommand(e, RoleWorker, "Carry out durable jobs and scheduled work"),
		migrateCommand(e),
		apikeyCommand(e),
		backupCommand(e),
		restoreCommand(e),
		emulatorCommand(e),
		versionCommand(),
	)
	return root
}

// helpAndFail answers a command that needs a subcommand.
func helpAndFail(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Errorf("unknown command %q for %q (see \"%s --help\")", args[0], cmd.CommandPath(), cmd.CommandPath()))
	}
	cmd.SetOut(cmd.ErrOrStderr())
	_ = cmd.Help()
	return usageError(fmt.Errorf("%s needs a command", cmd.CommandPath()))
}

func roleCommand(e env, role Role, short string) *cobra.Command {
	var migrate bool
	cmd := &cobra.Command{
		Use:   string(role),
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, done := e.serverLogs()
			defer done()
			cfg, log, err := e.setup()
			if err != nil {
				return err
			}
			log.Info("starting", "role", string(role), "version", version, "commit", commit, "config", cfg)
			TuneGC(e.getenv, log)
			a, err := Start(cmd.Context(), cfg, Options{Role: role, Logger: log, Migrate: migrate})
			if err != nil {
				return failure(cfg, err)
			}
			if err := a.Wait(); err != nil {
				return failure(cfg, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&migrate, "migrate", false, "apply pending database migrations before starting (always done on SQLite)")
	return cmd
}
