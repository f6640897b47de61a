package moderation_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

const guild = int64(4242)

func newService(t *testing.T, db *store.DB, b bus.Bus) *moderation.Service {
	t.Helper()
	if b == nil {
		m := bus.NewMemory()
		t.Cleanup(func() { m.Close() })
		b = m
	}
	return moderation.NewService(db, b, moderation.Options{})
}

// outboxJobs decodes the pending outbox rows of a queue.
func outboxJobs[T any](t *testing.T, db *store.DB, queue string) []T {
	t.Helper()
	rows, err := db.Q().PendingOutbox(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, r := range rows {
		if r.Queue != queue {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(r.Payload), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestCaseNumbersHaveNoGapsUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newService(t, db, nil)
		ctx := context.Background()
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Open(ctx, guild, moderation.Input{TargetID: int64(1000 + i), Action: automod.ActionBan, Reason: "raid"})
				errs <- err
			}()
		}
		// One refused case in the middle must not leave a gap either.
		if _, err := s.Open(ctx, guild, moderation.Input{TargetID: 1, Action: automod.ActionTimeout}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("timeout without a duration: %v", err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		cases, err := s.Cases(ctx, guild, moderation.Filter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(cases) != n {
			t.Fatalf("%d cases, want %d", len(cases), n)
		}
		for i, c := range cases {
			if want := int64(n - i); c.Number != want {
				t.Fatalf("case at position %d is #%d, want #%d: numbers have a gap or a duplicate", i, c.Number, want)
			}
		}
		if got := len(outboxJobs[jobs.ModAction](t, db, jobs.QueueModeration)); got != n {
			t.Fatalf("%d ban jobs queued, want %d", got, n)
		}
		// Another guild counts from 1.
		o, err := s.Open(ctx, guild+1, moderation.Input{TargetID: 5, Action: automod.ActionWarn})
		if err != nil || o.Case.Number != 1 {
			t.Fatalf("first case of another guild: %+v, %v", o.Case, err)
		}
	})
}

func TestEscalationOnNthWarning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newService(t, db, nil)
		ctx := context.Background()
		st := automod.DefaultSettings()
		st.ModLogChannel = 777
		st.EscalateAfter, st.EscalateWindowHours = 3, 24
		st.EscalateAction, st.EscalateTimeoutSeconds = automod.ActionTimeout, 3600
		if _, err := s.UpdateSettings(ctx, guild, 1, st); err != nil {
			t.Fatal(err)
		}
		var last moderation.Opened
		for i := range 3 {
			o, err := s.Open(ctx, guild, moderation.Input{TargetID: 9, ModeratorID: 2, Action: automod.ActionWarn, Reason: "be nice"})
			if err != nil {
				t.Fatal(err)
			}
			if (o.Escalation != nil) != (i == 2) {
				t.Fatalf("warning %d: escalation %+v", i+1, o.Escalation)
			}
			last = o
		}
		esc := last.Escalation
		if esc.Action != automod.ActionTimeout || esc.Duration != 3600 || esc.ModeratorID != 0 || esc.Number != 4 || !strings.Contains(esc.Reason, "3 warnings") {
			t.Fatalf("escalation case %+v", esc)
		}
		acts := outboxJobs[jobs.ModAction](t, db, jobs.QueueModeration)
		if len(acts) != 4 || acts[3].Action != "timeout" || acts[3].DurationSeconds != 3600 || acts[0].DM == "" {
			t.Fatalf("moderation jobs %+v", acts)
		}
		posts := outboxJobs[jobs.ModLogPost](t, db, jobs.QueueModLog)
		if len(posts) != 4 || posts[3].ChannelID != 777 || posts[3].Case != 4 {
			t.Fatalf("mod-log posts %+v", posts)
		}
		// A fourth warning does not escalate again.
		o, err := s.Open(ctx, guild, moderation.Input{TargetID: 9, Action: automod.ActionWarn})
		if err != nil || o.Escalation != nil {
			t.Fatalf("fourth warning: %+v %v", o, err)
		}
	})
}

func TestResolveAndReverse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newService(t, db, nil)
		ctx := context.Background()
		ban, err := s.Open(ctx, guild, moderation.Input{TargetID: 9, Action: automod.ActionBan, Reason: "spam"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Resolve(ctx, guild, ban.Case.Number, 3, "appeal accepted", true)
		if err != nil || c.State != moderation.StateReversed || c.Note != "appeal accepted" || c.ResolvedBy != 3 {
			t.Fatalf("reverse: %+v %v", c, err)
		}
		acts := outboxJobs[jobs.ModAction](t, db, jobs.QueueModeration)
		if len(acts) != 2 || acts[1].Action != "unban" || acts[1].TargetID != 9 {
			t.Fatalf("reversal should queue an unban: %+v", acts)
		}
		if _, err := s.Resolve(ctx, guild, ban.Case.Number, 3, "again", false); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("closing a closed case: %v", err)
		}
		if posts := outboxJobs[jobs.ModLogPost](t, db, jobs.QueueModLog); len(posts) != 0 {
			t.Fatalf("mod-log posts without a mod-log channel: %+v", posts)
		}
		// With a mod-log channel, closing a case is posted there too.
		st := automod.DefaultSettings()
		st.ModLogChannel = 777
		if _, err := s.UpdateSettings(ctx, guild, 1, st); err != nil {
			t.Fatal(err)
		}
		to, err := s.Open(ctx, guild, moderation.Input{TargetID: 9, Action: automod.ActionTimeout, Duration: time.Hour, Reason: "heated"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, guild, to.Case.Number, 3, "talked it over", false); err != nil {
			t.Fatal(err)
		}
		posts := outboxJobs[jobs.ModLogPost](t, db, jobs.QueueModLog)
		if want := []jobs.ModLogPost{{GuildID: guild, ChannelID: 777, Case: to.Case.Number}, {GuildID: guild, ChannelID: 777, Case: to.Case.Number, Closed: true}}; !slices.Equal(posts, want) {
			t.Fatalf("mod-log posts %+v, want %+v", posts, want)
		}
		if _, err := s.Resolve(ctx, guild, 999, 3, "", false); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown case: %v", err)
		}
		if _, err := s.Case(ctx, guild, 999); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown case: %v", err)
		}
		// Filters.
		if _, err := s.Open(ctx, guild, moderation.Input{TargetID: 10, Action: automod.ActionWarn, Rule: &automod.Rule{ID: 5, Name: "spam", Kind: automod.KindMessageRate}}); err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]moderation.Filter{
			"target": {TargetID: 10}, "action": {Action: "warn"}, "rule": {Rule: "spam"}, "state": {State: "open"},
		} {
			got, err := s.Cases(ctx, guild, f)
			if err != nil || len(got) != 1 || got[0].TargetID != 10 {
				t.Errorf("filter %s: %+v %v", name, got, err)
			}
		}
		if _, err := s.Cases(ctx, guild, moderation.Filter{State: "lost"}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("bad state filter: %v", err)
		}
	})
}

func TestRulesRefuseBadPatternsAndReachOtherProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := bus.NewMemory()
		defer b.Close()
		writer, reader := newService(t, db, b), newService(t, db, b)
		if err := reader.Start(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := writer.CreateRule(ctx, guild, 1, automod.Rule{Name: "raid", Kind: automod.KindUsername, Enabled: true, Pattern: "raid(er", Action: automod.ActionBan})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != "pattern" || !strings.Contains(err.Error(), "missing closing )") {
			t.Fatalf("bad pattern: %v", err)
		}
		if rules, _ := writer.Rules(ctx, guild); len(rules) != 0 {
			t.Fatalf("a refused rule was saved: %+v", rules)
		}
		g, err := reader.Evaluator(ctx, guild)
		if err != nil {
			t.Fatal(err)
		}
		if v := g.OnJoin(automod.Member{ID: 5, Username: "raider7"}, time.Now()); len(v) != 0 {
			t.Fatalf("no rules yet, got %+v", v)
		}
		r, err := writer.CreateRule(ctx, guild, 1, automod.Rule{Name: "raid", Kind: automod.KindUsername, Enabled: true, Pattern: `^raider\d+$`, Action: automod.ActionBan})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			g, err := reader.Evaluator(ctx, guild)
			if err != nil {
				t.Fatal(err)
			}
			if v := g.OnJoin(automod.Member{ID: 5, Username: "raider7"}, time.Now()); len(v) == 1 && v[0].Rule.ID == r.ID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other process did not pick up the new rule within a second")
			}
			time.Sleep(5 * time.Millisecond)
		}
		out, err := writer.Try(ctx, guild, automod.Sample{Username: "raider12"})
		if err != nil || len(out) != 1 || !out[0].Triggered {
			t.Fatalf("try: %+v %v", out, err)
		}
		if err := writer.DeleteRule(ctx, guild, 1, r.ID); err != nil {
			t.Fatal(err)
		}
		if err := writer.DeleteRule(ctx, guild, 1, r.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}
