package rolesync_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/rolesync"
)

func setup(t *testing.T) (*emulator.Emulator, *emulator.Demo, bus.Bus) {
	e := emulator.NewTest(t)
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	w := rolesync.New(b, bot.NewREST(bot.RESTOptions{Token: e.BotToken(), APIURL: e.APIURL()}),
		rolesync.Options{Consume: bus.ConsumeOptions{MaxAttempts: 5, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e, e.Demo(), b
}

func enqueue(t *testing.T, b bus.Bus, c jobs.RoleChange) {
	p, _ := json.Marshal(c)
	if _, err := b.Enqueue(context.Background(), jobs.QueueRoles, p, nil); err != nil {
		t.Fatal(err)
	}
}

func TestGrantSurvives503s(t *testing.T) {
	e, d, b := setup(t)
	quinn, role := d.Members["quiet_quinn"], d.Roles[emulator.RoleHelper]
	if err := e.Fault(emulator.FaultSpec{Route: "PUT /guilds/{g}/members/{u}/roles/{r}", Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, b, jobs.RoleChange{GuildID: int64(d.GuildID), UserID: int64(quinn), RoleID: int64(role), Add: true, Reason: "test"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := e.Member(d.GuildID, quinn); m.HasRole(role) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("role not granted; log: %+v", e.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	puts := 0
	for _, l := range e.Log() {
		if l.Method == "PUT" && strings.Contains(l.Path, "/roles/") {
			puts++
		}
	}
	if puts != 3 {
		t.Errorf("%d role PUTs, want 2 failures and 1 success", puts)
	}
}

func TestUnknownRoleIsDeadLettered(t *testing.T) {
	e, d, b := setup(t)
	enqueue(t, b, jobs.RoleChange{GuildID: int64(d.GuildID), UserID: int64(d.Members["quiet_quinn"]), RoleID: 12345, Add: true})
	deadline := time.Now().Add(10 * time.Second)
	for {
		dead, err := b.DeadLetters(context.Background(), jobs.QueueRoles, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) == 1 {
			if dead[0].Attempt != 1 || !strings.Contains(dead[0].Error, "does not know this member or role") {
				t.Errorf("dead letter %+v", dead[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not dead-lettered; log %+v", e.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
