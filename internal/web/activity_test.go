package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// The squad sizes chart appears once a squad exists; while none has
// members it says so, rather than "No data yet" under a squad's name.
func TestActivitySquadSizes(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	admin := r.signIn(r.demo.AdminID)
	if res := admin.get(r.path("")); res.StatusCode != 200 || strings.Contains(res.body, "Squad sizes") {
		t.Fatalf("before any squad: %d, squad sizes drawn: %v", res.StatusCode, strings.Contains(res.body, "Squad sizes"))
	}
	ctx := context.Background()
	sq, err := r.sq.Create(ctx, r.guild, 0, squads.NewSpec("Gophers", int64(r.demo.Roles[emulator.RoleGophers])))
	if err != nil {
		t.Fatal(err)
	}
	chart := func() string {
		t.Helper()
		res := admin.get(r.path(""))
		i := strings.Index(res.body, "Squad sizes")
		if res.StatusCode != 200 || i < 0 {
			t.Fatalf("activity: %d, no squad sizes chart", res.StatusCode)
		}
		return res.body[i:]
	}
	if c := chart(); !strings.Contains(c, "No members in squads yet") || !strings.Contains(c, "Gophers") {
		t.Fatalf("an empty squad:\n%s", c)
	}
	gary := r.demo.Members["gopher_gary"]
	r.openAccount(gary)
	if _, err := r.sq.Join(ctx, r.guild, economy.Member{ID: int64(gary), Name: "gary"}, sq.ID); err != nil {
		t.Fatal(err)
	}
	if c := chart(); strings.Contains(c, "No members in squads yet") || !strings.Contains(c, "<title>Gophers: 1</title>") {
		t.Fatalf("a squad of one:\n%s", c)
	}
}
