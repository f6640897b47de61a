package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/web"
)

// TestDeadJobsRetried: an operator sees a queue's dead jobs from the status
// page, with the error that killed each, and sends them back to the queue
// once the cause is fixed. Nobody else can, and nothing else can be.
func TestDeadJobsRetried(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	var ids []string
	for _, p := range []string{`{"user":1}`, `{"user":2}`} {
		id, err := b.Enqueue(ctx, "roles", []byte(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, "roles", bus.ConsumeOptions{}, func(context.Context, bus.Job) error {
			return bus.Permanent(errors.New("403 Missing Permissions: the role is above the bot's"))
		})
	}()
	dead := func() bus.QueueStats {
		st, err := b.Stats(ctx, "roles")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for deadline := time.Now().Add(10 * time.Second); dead().Dead != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the jobs did not die: %+v", dead())
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	deps := func(d *web.Deps) { d.Bus, d.Queues = b, []string{"roles", "modlog"} }
	plain := newRig(t, db, rigOpts{status: deps}) // no operator
	r := newRig(t, db, rigOpts{operators: []int64{int64(plain.demo.AdminID)}, status: deps})
	op := r.signIn(r.demo.AdminID)
	if res := op.get("/status"); !strings.Contains(res.body, `<a href="/status/queues/roles">2<span class="sr"> dead jobs in roles`) {
		t.Fatalf("the status page does not link the dead jobs:\n%s", res.body)
	}
	page := op.get("/status/queues/roles")
	for _, want := range append([]string{"Dead jobs in roles", "403 Missing Permissions: the role is above the bot&#39;s", "{&#34;user&#34;:2}", "Retry all 2 dead jobs"}, ids...) {
		if !strings.Contains(page.body, want) {
			t.Errorf("the dead jobs page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatal(page.body)
	}
	for path, want := range map[string]int{"/status/queues/nope": http.StatusNotFound, "/status/queues/modlog": http.StatusOK} {
		if res := op.get(path); res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	if res := op.post("/status/queues/nope/redrive", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("redrive of an unwatched queue: %d", res.StatusCode)
	}

	// A guild manager who is not an operator: no link, refused.
	mgr := plain.signIn(plain.demo.AdminID)
	if res := mgr.get("/status"); res.StatusCode != http.StatusOK || strings.Contains(res.body, "/status/queues/roles") {
		t.Errorf("a manager's status page: %d, links the dead jobs: %v", res.StatusCode, strings.Contains(res.body, "/status/queues/roles"))
	}
	if res := mgr.get("/status/queues/roles"); res.StatusCode != http.StatusForbidden {
		t.Errorf("a manager opened the dead jobs: %d", res.StatusCode)
	}
	if res := mgr.post("/status/queues/roles/redrive", nil); res.StatusCode != http.StatusForbidden || dead().Dead != 2 {
		t.Errorf("a manager redrove: %d, %+v", res.StatusCode, dead())
	}
	if res := op.post("/status/queues/roles/redrive", url.Values{"csrf_token": {"forged"}}); res.StatusCode != http.StatusForbidden || dead().Dead != 2 {
		t.Errorf("a redrive without the CSRF token: %d, %+v", res.StatusCode, dead())
	}

	res := op.post("/status/queues/roles/redrive", nil)
	if st := dead(); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/status" || st.Dead != 0 || st.Ready != 2 {
		t.Fatalf("redrive: %d %s, %+v", res.StatusCode, res.Header.Get("Location"), st)
	}
	if res := op.get("/status"); !strings.Contains(res.body, "Moved 2 dead jobs back to roles") {
		t.Errorf("no word of the redrive:\n%s", res.body)
	}
	if op.post("/status/queues/roles/redrive", nil); !strings.Contains(op.get("/status").body, "No dead job was left in roles.") {
		t.Error("a second redrive does not say there was nothing to do")
	}
}
