package modactions_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/modactions"
	"github.com/smarterdev/smarterdev/internal/moderation"
)

type fakeCases map[int64]moderation.Case

func (f fakeCases) Case(_ context.Context, _, number int64) (moderation.Case, error) {
	c, ok := f[number]
	if !ok {
		return moderation.Case{}, apperr.New(apperr.NotFound, "case #%d does not exist in this guild", number)
	}
	return c, nil
}

func setup(t *testing.T, cases fakeCases) (*emulator.Emulator, *emulator.Demo, *modactions.Worker) {
	e := emulator.NewTest(t)
	w := modactions.New(bus.NewMemory(), bot.NewREST(bot.RESTOptions{Token: e.BotToken(), APIURL: e.APIURL()}), cases,
		modactions.Options{ForbiddenAttempts: 2})
	return e, e.Demo(), w
}

func job(t *testing.T, attempt int, v any) bus.Job {
	p, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bus.Job{ID: "j1", Attempt: attempt, Payload: p}
}

func TestActionsAreIdempotent(t *testing.T) {
	e, d, w := setup(t, nil)
	ctx := context.Background()
	g, tom := int64(d.GuildID), d.Members["trouble_tom"]
	kick := jobs.ModAction{GuildID: g, Case: 1, Action: "kick", TargetID: int64(tom), Reason: "case #1: rude", DM: "You were removed"}
	if err := w.HandleAction(ctx, job(t, 1, kick)); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Member(d.GuildID, tom); ok {
		t.Fatal("tom still a member")
	}
	// Redelivered: the member is gone, which counts as done, and no second DM.
	if err := w.HandleAction(ctx, job(t, 2, kick)); err != nil {
		t.Fatalf("second kick: %v", err)
	}
	if n := len(e.Messages(e.DMChannel(tom))); n != 1 {
		t.Errorf("%d DMs, want 1", n)
	}
	// Unban of someone not banned: done. Delete of a deleted message: done.
	if err := w.HandleAction(ctx, job(t, 1, jobs.ModAction{GuildID: g, Case: 2, Action: "unban", TargetID: int64(tom)})); err != nil {
		t.Fatalf("unban: %v", err)
	}
	msg, _ := e.Say(d.GuildID, d.General, d.Members["quiet_quinn"], "spam")
	del := jobs.ModAction{GuildID: g, Case: 3, Action: "delete", TargetID: int64(d.Members["quiet_quinn"]), ChannelID: int64(d.General),
		MessageID: int64(msg), DeleteMessage: true}
	for attempt := 1; attempt <= 2; attempt++ {
		if err := w.HandleAction(ctx, job(t, attempt, del)); err != nil {
			t.Fatalf("delete attempt %d: %v", attempt, err)
		}
	}
	// Timeout and its undo.
	quinn := d.Members["quiet_quinn"]
	if err := w.HandleAction(ctx, job(t, 1, jobs.ModAction{GuildID: g, Case: 4, Action: "timeout", TargetID: int64(quinn), DurationSeconds: 600})); err != nil {
		t.Fatal(err)
	}
	if m, _ := e.Member(d.GuildID, quinn); !m.TimedOut() || time.Until(*m.CommunicationDisabledUntil) > 10*time.Minute {
		t.Fatalf("timeout: %+v", m.CommunicationDisabledUntil)
	}
	if err := w.HandleAction(ctx, job(t, 1, jobs.ModAction{GuildID: g, Case: 5, Action: "untimeout", TargetID: int64(quinn)})); err != nil {
		t.Fatal(err)
	}
	if m, _ := e.Member(d.GuildID, quinn); m.TimedOut() {
		t.Fatal("still timed out")
	}
}

func TestForbiddenRetriesThenDeadLetters(t *testing.T) {
	_, d, w := setup(t, nil)
	// The owner cannot be banned by the bot: 403.
	ban := jobs.ModAction{GuildID: int64(d.GuildID), Case: 1, Action: "ban", TargetID: int64(d.OwnerID)}
	err := w.HandleAction(context.Background(), job(t, 1, ban))
	if err == nil || bus.IsPermanent(err) {
		t.Fatalf("first 403: %v, want a retry", err)
	}
	err = w.HandleAction(context.Background(), job(t, 2, ban))
	if !bus.IsPermanent(err) || !strings.Contains(err.Error(), "move it above the member's roles") {
		t.Fatalf("second 403: %v, want a dead letter with a hint", err)
	}
}

func TestModLogPost(t *testing.T) {
	cases := fakeCases{7: {GuildID: 1, Number: 7, TargetID: 42, TargetName: "tom", Action: automod.ActionTimeout,
		RuleName: "spam", Reason: "6 messages within 10s", Duration: 600, State: moderation.StateOpen, At: time.Now()}}
	e, d, w := setup(t, cases)
	ctx := context.Background()
	if err := w.HandleModLog(ctx, job(t, 1, jobs.ModLogPost{GuildID: int64(d.GuildID), ChannelID: int64(d.ModLog), Case: 7})); err != nil {
		t.Fatal(err)
	}
	msgs := e.Messages(d.ModLog)
	if len(msgs) != 1 {
		t.Fatalf("%d posts", len(msgs))
	}
	body := string(msgs[0].Embeds)
	for _, want := range []string{"Case #7 · timeout", `\u003c@42\u003e (tom)`, "automod", "spam", "10m", "6 messages within 10s"} {
		if !strings.Contains(body, want) {
			t.Errorf("post lacks %q: %s", want, body)
		}
	}
	// A retry of the same post (its answer lost) posts nothing new: the nonce.
	if err := w.HandleModLog(ctx, job(t, 2, jobs.ModLogPost{GuildID: int64(d.GuildID), ChannelID: int64(d.ModLog), Case: 7})); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Messages(d.ModLog)); n != 1 {
		t.Fatalf("a retried post posted again: %d posts", n)
	}
	// Closing the case is posted too, as its own message.
	c := cases[7]
	c.State, c.ResolvedBy, c.ResolvedAt, c.Note = moderation.StateReversed, 55, time.Now(), "appeal accepted"
	cases[7] = c
	if err := w.HandleModLog(ctx, job(t, 1, jobs.ModLogPost{GuildID: int64(d.GuildID), ChannelID: int64(d.ModLog), Case: 7, Closed: true})); err != nil {
		t.Fatal(err)
	}
	if msgs = e.Messages(d.ModLog); len(msgs) != 2 {
		t.Fatalf("the closing was not posted: %d posts", len(msgs))
	}
	body = string(msgs[1].Embeds)
	for _, want := range []string{"Case #7 · timeout reversed: the timeout is removed", `Closed by \u003c@55\u003e.`, "appeal accepted", "reversed"} {
		if !strings.Contains(body, want) {
			t.Errorf("closing post lacks %q: %s", want, body)
		}
	}
	err := w.HandleModLog(ctx, job(t, 1, jobs.ModLogPost{GuildID: int64(d.GuildID), ChannelID: 12345, Case: 7}))
	if !bus.IsPermanent(err) || !strings.Contains(err.Error(), "mod-log channel does not exist") {
		t.Errorf("unknown channel: %v", err)
	}
	if err := w.HandleModLog(ctx, job(t, 1, jobs.ModLogPost{GuildID: int64(d.GuildID), ChannelID: int64(d.ModLog), Case: 8})); !bus.IsPermanent(err) {
		t.Errorf("unknown case: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * time.Second: "30s", 10 * time.Minute: "10m", 36 * time.Hour: "1d 12h", 28 * 24 * time.Hour: "28d"} {
		if got := modactions.FormatDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
