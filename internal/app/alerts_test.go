package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/jobs"
)

// statsBus is a bus whose queue statistics and ping are set by the test.
type statsBus struct {
	bus.Bus
	stats   bus.QueueStats
	statErr error
	pingErr error
}

func (b statsBus) Stats(context.Context, string) (bus.QueueStats, error) { return b.stats, b.statErr }
func (b statsBus) Ping(context.Context) error                            { return b.pingErr }

// DeadLetters fires on dead-lettered jobs and on its own failure, but not
// when the bus is down: that is ReadinessFailing's to report, once.
func TestDeadLettersCheck(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	for _, c := range []struct {
		name    string
		bus     statsBus
		problem string // a substring; "" means none
		err     bool
	}{
		{"healthy", statsBus{}, "", false},
		{"dead letters", statsBus{stats: bus.QueueStats{Dead: 2}}, "dead-lettered jobs: 2 on " + jobs.QueueRoles, false},
		{"bus down", statsBus{statErr: down, pingErr: down}, "", false},
		{"stats failing on a live bus", statsBus{statErr: errors.New("WRONGTYPE")}, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &App{bus: c.bus}
			problem, err := a.deadLettersCheck(context.Background())
			if (err != nil) != c.err || c.problem == "" && problem != "" || !strings.Contains(problem, c.problem) {
				t.Errorf("got (%q, %v), want a problem containing %q and an error: %v", problem, err, c.problem, c.err)
			}
		})
	}
}

// BotDisconnected is wired only where a bot runs: with a token, or in serve
// against the sandbox; not for serve with neither.
func TestBotExpected(t *testing.T) {
	for _, c := range []struct {
		role    Role
		token   config.Secret
		sandbox bool
		want    bool
	}{
		{RoleServe, "", false, false},
		{RoleServe, "", true, true},
		{RoleServe, "bot-token", false, true},
		{RoleWorker, "bot-token", false, true},
		{RoleWorker, "", true, false}, // the sandbox runs in serve or bot, never for another process
		{RoleWorker, "", false, false},
	} {
		a := &App{role: c.role}
		a.cfg.Discord.Token, a.cfg.Discord.Sandbox = c.token, c.sandbox
		if got := a.botExpected(); got != c.want {
			t.Errorf("%s, token %v, sandbox %v: botExpected %v, want %v", c.role, c.token != "", c.sandbox, got, c.want)
		}
		if conds := a.botDisconnectedCondition(); len(conds) > 0 != c.want {
			t.Errorf("%s, token %v, sandbox %v: %d BotDisconnected conditions", c.role, c.token != "", c.sandbox, len(conds))
		}
	}
}
