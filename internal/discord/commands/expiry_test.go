package commands

import (
	"log/slog"
	"testing"
	"time"
)

// A menu scheduled late (its goroutine slower than the click's) must not
// replace the menu the click showed under the same message.
func TestExpiryKeepsTheLaterMenu(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	x := newExpiry(func() time.Time { return t0 }, slog.New(slog.DiscardHandler))
	x.setRunning(true)
	first := &menu{key: 7, due: t0.Add(60 * time.Second), ids: []string{"first"}}
	confirm := &menu{key: 7, due: t0.Add(110 * time.Second), ids: []string{"confirm"}}

	x.schedule(confirm)
	x.schedule(first) // the command's reply, scheduled after the click's
	if due := x.takeDue(t0.Add(61 * time.Second)); len(due) != 0 {
		t.Fatalf("at 61 s %d menus due, want none: the earlier menu replaced the later", len(due))
	}
	due := x.takeDue(t0.Add(111 * time.Second))
	if len(due) != 1 || due[0] != confirm {
		t.Fatalf("at 111 s due %v, want the confirmation", due)
	}

	// In order, a later menu replaces the earlier as before.
	x.schedule(first)
	x.schedule(confirm)
	if due := x.takeDue(t0.Add(111 * time.Second)); len(due) != 1 || due[0] != confirm {
		t.Fatalf("in order: due %v, want the confirmation alone", due)
	}
}
