package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/bot"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/modactions"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// newQuietEmulator has a long heartbeat interval: while the bot idles
// (waiting for the worker), disgo v0.19.6's heartbeat goroutine reads the
// ACK time its read loop wrote with nothing to order them, which the race
// detector reports (docs/emulator.md); one heartbeat per connection within a
// test keeps that away.
func newQuietEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	e := emulator.New(emulator.Options{Shards: 2, HeartbeatInterval: 4 * time.Second})
	if _, err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.SeedDemo()
	t.Cleanup(e.Close)
	return e
}

// runModActions relays the outbox and runs the moderation worker (actions
// and mod-log posts) against the emulator, as the worker role does.
func runModActions(t *testing.T, r *rig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := modactions.New(r.bus, bot.NewREST(bot.RESTOptions{Token: r.e.BotToken(), APIURL: r.e.APIURL()}), r.mod,
		modactions.Options{Logger: testLogger(), Consume: bus.ConsumeOptions{Concurrency: 4, MaxAttempts: 6,
			Backoff: func(int) time.Duration { return 20 * time.Millisecond }}})
	relay := outbox.NewRelay(r.db, r.bus, outbox.Options{Interval: 20 * time.Millisecond, Logger: testLogger()})
	done := make(chan struct{}, 2)
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	go func() { _ = relay.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
}

func (r *rig) settings(t *testing.T, change func(*automod.Settings)) {
	t.Helper()
	st := automod.DefaultSettings()
	change(&st)
	if _, err := r.mod.UpdateSettings(context.Background(), int64(r.d.GuildID), int64(r.d.OwnerID), st); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) rule(t *testing.T, rule automod.Rule) {
	t.Helper()
	rule.Enabled = true
	if _, err := r.mod.CreateRule(context.Background(), int64(r.d.GuildID), int64(r.d.OwnerID), rule); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) cases(t *testing.T, f moderation.Filter) []moderation.Case {
	t.Helper()
	f.Limit = 100
	cs, err := r.mod.Cases(context.Background(), int64(r.d.GuildID), f)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// modLog returns the embed titles posted to the mod-log channel.
func modLog(e *emulator.Emulator, ch emulator.ID) []string {
	var titles []string
	for _, m := range e.Messages(ch) {
		var embeds []struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal(m.Embeds, &embeds)
		for _, em := range embeds {
			titles = append(titles, em.Title)
		}
	}
	return titles
}

func restCalls(e *emulator.Emulator, method, pathPart string) int {
	n := 0
	for _, l := range e.Log() {
		if l.Method == method && strings.Contains(l.Path, pathPart) {
			n++
		}
	}
	return n
}

func dmTexts(e *emulator.Emulator, u emulator.ID) []string {
	var out []string
	for _, m := range e.Messages(e.DMChannel(u)) {
		out = append(out, m.Content)
	}
	return out
}

// settle waits until the shard has handled a later message (its daily
// reaction), then a moment more for cases opened off the shard's goroutine.
func (r *rig) settle(t *testing.T) {
	t.Helper()
	marker, err := r.e.Say(r.d.GuildID, r.d.BotCommands, r.d.Members["rusty_rita"], "marker")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the marker handled", func() bool { return messageReactions(r.e, r.d.BotCommands, marker) == 1 })
	time.Sleep(300 * time.Millisecond)
}

func TestAutomodSpamBurstTimesOutOnce(t *testing.T) {
	e := newQuietEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	runModActions(t, r)
	waitReady(t, e, 2, r.bot)
	r.settings(t, func(s *automod.Settings) { s.ModLogChannel = int64(r.d.ModLog) })
	r.rule(t, automod.Rule{Name: "spam", Kind: automod.KindMessageRate, Count: 5, WindowSeconds: 10,
		Action: automod.ActionTimeout, TimeoutSeconds: 600})
	tom := r.d.Members["trouble_tom"]

	for i := range 30 {
		if _, err := e.Say(r.d.GuildID, r.d.General, tom, fmt.Sprintf("spam %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "tom timed out", func() bool { m, _ := e.Member(r.d.GuildID, tom); return m.TimedOut() })
	eventually(t, "the case in the mod-log", func() bool { return len(modLog(e, r.d.ModLog)) >= 1 })
	r.settle(t)

	cs := r.cases(t, moderation.Filter{})
	if len(cs) != 1 || cs[0].Number != 1 || cs[0].TargetID != int64(tom) || cs[0].Action != automod.ActionTimeout ||
		cs[0].Duration != 600 || cs[0].ModeratorID != 0 || cs[0].RuleName != "spam" {
		t.Fatalf("cases %+v, want one automod timeout of tom for 600 s", cs)
	}
	if n := restCalls(e, "PATCH", "/members/"+tom.String()); n != 1 {
		t.Errorf("%d timeout PATCHes of tom, want 1", n)
	}
	m, _ := e.Member(r.d.GuildID, tom)
	if left := time.Until(*m.CommunicationDisabledUntil); left < 9*time.Minute || left > 10*time.Minute {
		t.Errorf("timed out for %s more, want about 10 minutes", left)
	}
	if got := modLog(e, r.d.ModLog); len(got) != 1 || got[0] != "Case #1 · timeout" {
		t.Errorf("mod-log %q, want one post of case #1", got)
	}
}

func TestAutomodRaidBansEveryJoiner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newQuietEmulator(t)
		r := startRig(t, e, db, memBus(t))
		runModActions(t, r)
		waitReady(t, e, 2, r.bot)
		r.settings(t, func(s *automod.Settings) { s.ModLogChannel = int64(r.d.ModLog) })
		r.rule(t, automod.Rule{Name: "raiders", Kind: automod.KindUsername, Pattern: `^raid[_-]?bot`, Action: automod.ActionBan,
			Reason: "raid account"})

		var raiders []emulator.ID
		for i := range 50 {
			id, err := e.AddMember(r.d.GuildID, emulator.MemberSpec{Username: fmt.Sprintf("RAID_bot_%02d", i),
				CreatedAt: time.Now().Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			raiders = append(raiders, id)
		}
		// A regular newcomer is left alone.
		fine, _ := e.AddMember(r.d.GuildID, emulator.MemberSpec{Username: "friendly_fran", CreatedAt: time.Now().Add(-time.Hour)})

		bans := func() int { g, _ := e.Guild(r.d.GuildID); return len(g.Bans) }
		eventually(t, "50 bans", func() bool { return bans() == 50 })
		eventually(t, "50 mod-log posts", func() bool { return len(modLog(e, r.d.ModLog)) == 50 })
		r.settle(t)

		g, _ := e.Guild(r.d.GuildID)
		banned := map[emulator.ID]bool{}
		for _, b := range g.Bans {
			banned[b.User.ID] = true
			if !strings.Contains(b.Reason, "raid account") {
				t.Errorf("ban reason %q lacks the rule's reason", b.Reason)
			}
		}
		for _, id := range raiders {
			if !banned[id] {
				t.Errorf("raider %s not banned", id)
			}
		}
		if banned[fine] || len(banned) != 50 {
			t.Errorf("%d bans (fran banned: %v), want the 50 raiders only", len(banned), banned[fine])
		}
		cs := r.cases(t, moderation.Filter{})
		var numbers []int64
		targets := map[int64]bool{}
		for _, c := range cs {
			numbers = append(numbers, c.Number)
			targets[c.TargetID] = true
			if c.Action != automod.ActionBan || c.RuleName != "raiders" {
				t.Errorf("case %+v", c)
			}
		}
		slices.Sort(numbers)
		for i, n := range numbers {
			if n != int64(i+1) {
				t.Fatalf("case numbers %v, want 1..50 without gaps", numbers)
			}
		}
		if len(numbers) != 50 || len(targets) != 50 {
			t.Fatalf("%d cases for %d members, want 50 and 50", len(numbers), len(targets))
		}
		if n := restCalls(e, "PUT", "/bans/"); n != 50 {
			t.Errorf("%d ban PUTs, want 50", n)
		}
	})
}

func TestAutomodBlockedAttachmentDeletesAndWarns(t *testing.T) {
	e := newQuietEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	runModActions(t, r)
	waitReady(t, e, 2, r.bot)
	r.rule(t, automod.Rule{Name: "no executables", Kind: automod.KindAttachment, Extensions: []string{"exe", "scr"},
		Action: automod.ActionWarn, Reason: "Executables are not allowed here"})
	quinn := r.d.Members["quiet_quinn"]

	ok, _ := e.Post(r.d.GuildID, r.d.General, emulator.MessageSpec{UserID: quinn, Content: "my notes",
		Attachments: []emulator.AttachmentSpec{{Filename: "notes.txt", Size: 10}}})
	bad, err := e.Post(r.d.GuildID, r.d.General, emulator.MessageSpec{UserID: quinn, Content: "try this",
		Attachments: []emulator.AttachmentSpec{{Filename: "evil.exe.", Size: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	present := func(id emulator.ID) bool {
		return slices.ContainsFunc(e.Messages(r.d.General), func(m *emulator.Message) bool { return m.ID == id })
	}
	eventually(t, "the message deleted", func() bool { return !present(bad) })
	eventually(t, "the warning DM", func() bool { return len(dmTexts(e, quinn)) == 1 })
	r.settle(t)

	if !present(ok) {
		t.Error("the .txt message was deleted too")
	}
	if dm := dmTexts(e, quinn); len(dm) != 1 || !strings.Contains(dm[0], "warning") || !strings.Contains(dm[0], "Executables are not allowed here") {
		t.Errorf("DMs %q, want one warning with the reason", dm)
	}
	cs := r.cases(t, moderation.Filter{})
	if len(cs) != 1 || cs[0].Action != automod.ActionWarn || cs[0].TargetID != int64(quinn) || cs[0].MessageID != int64(bad) {
		t.Fatalf("cases %+v, want one warning of quinn for the message", cs)
	}
	if !strings.Contains(cs[0].Reason, ".exe is blocked") {
		t.Errorf("reason %q does not say which file type", cs[0].Reason)
	}
}

func TestAutomodLeavesExemptRolesAndModeratorsAlone(t *testing.T) {
	e := newQuietEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	runModActions(t, r)
	waitReady(t, e, 2, r.bot)
	r.rule(t, automod.Rule{Name: "spam", Kind: automod.KindMessageRate, Count: 5, WindowSeconds: 10,
		Action: automod.ActionTimeout, TimeoutSeconds: 600, ExemptRoles: []int64{int64(r.d.Roles[emulator.RoleGophers])}})
	gary, linus, tom := r.d.Members["gopher_gary"], r.d.ModeratorID, r.d.Members["trouble_tom"]

	// gary holds the exempt role; linus is a moderator (exempt by default,
	// known from his role's permissions in the bot's cache).
	for _, u := range []emulator.ID{gary, linus, tom} {
		for i := range 10 {
			if _, err := e.Say(r.d.GuildID, r.d.General, u, fmt.Sprintf("chatty %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, "tom's case", func() bool { return len(r.cases(t, moderation.Filter{})) >= 1 })
	r.settle(t)
	cs := r.cases(t, moderation.Filter{})
	if len(cs) != 1 || cs[0].TargetID != int64(tom) {
		t.Fatalf("cases %+v, want only tom's", cs)
	}
	for _, u := range []emulator.ID{gary, linus} {
		if m, _ := e.Member(r.d.GuildID, u); m.TimedOut() {
			t.Errorf("%s was timed out", m.User.Username)
		}
	}
}

func TestModeratorCommands(t *testing.T) {
	e := newQuietEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	runModActions(t, r)
	waitReady(t, e, 2, r.bot)
	r.settings(t, func(s *automod.Settings) {
		s.ModLogChannel = int64(r.d.ModLog)
		s.EscalateAfter, s.EscalateWindowHours = 3, 24
		s.EscalateAction, s.EscalateTimeoutSeconds = automod.ActionTimeout, 3600
	})
	linus, quinn, grace := r.d.ModeratorID, r.d.Members["quiet_quinn"], r.d.AdminID
	user := func(id emulator.ID) emulator.Option { return emulator.Opt("user", id.String()) }
	text := func(it *emulator.Interaction) (string, bool) {
		embeds, eph := responseEmbeds(t, it)
		return embedText(embeds), eph
	}

	// A member without Moderate Members is refused, and told which permission.
	txt, eph := text(r.command(t, quinn, "warn", user(r.d.Members["gopher_gary"])))
	if !eph || !strings.Contains(txt, "Missing permission") || !strings.Contains(txt, "Moderate Members") {
		t.Fatalf("warn without permission (ephemeral %v): %s", eph, txt)
	}
	// Not on oneself, not on the bot, not on an admin.
	for _, target := range []emulator.ID{linus, r.d.BotID, grace} {
		txt, eph = text(r.command(t, linus, "kick", user(target)))
		if !eph || !strings.Contains(txt, "Not allowed on this member") {
			t.Errorf("kick %s (ephemeral %v): %s", target, eph, txt)
		}
	}
	// A bad duration says what a good one looks like.
	txt, eph = text(r.command(t, linus, "timeout", user(quinn), emulator.Opt("duration", "forever")))
	if !eph || !strings.Contains(txt, "10m, 2h or 1d") {
		t.Errorf("bad duration (ephemeral %v): %s", eph, txt)
	}
	txt, _ = text(r.command(t, linus, "timeout", user(quinn), emulator.Opt("duration", "29d")))
	if !strings.Contains(txt, "28 days") {
		t.Errorf("too long a timeout: %s", txt)
	}
	if cs := r.cases(t, moderation.Filter{}); len(cs) != 0 {
		t.Fatalf("refusals opened cases: %+v", cs)
	}

	// Three warnings escalate to a timeout on the third.
	for i := 1; i <= 3; i++ {
		txt, eph = text(r.command(t, linus, "warn", user(quinn), emulator.Opt("reason", fmt.Sprintf("off-topic %d", i))))
		if eph || !strings.Contains(txt, fmt.Sprintf("case **#%d**", i)) {
			t.Fatalf("warning %d (ephemeral %v): %s", i, eph, txt)
		}
		if esc := strings.Contains(txt, "Escalation"); esc != (i == 3) {
			t.Fatalf("warning %d mentions an escalation: %v: %s", i, esc, txt)
		}
	}
	if !strings.Contains(txt, "case **#4**") {
		t.Errorf("escalation case number missing: %s", txt)
	}
	eventually(t, "quinn timed out by escalation", func() bool { m, _ := e.Member(r.d.GuildID, quinn); return m.TimedOut() })
	eventually(t, "three warning DMs", func() bool { return len(dmTexts(e, quinn)) >= 3 })
	cs := r.cases(t, moderation.Filter{TargetID: int64(quinn)})
	if len(cs) != 4 || cs[0].Number != 4 || cs[0].Action != automod.ActionTimeout || cs[0].Duration != 3600 || cs[0].RuleName != "escalation" {
		t.Fatalf("cases %+v, want 3 warnings and the escalation timeout #4", cs)
	}
	if cs[1].ModeratorID != int64(linus) {
		t.Errorf("warning moderator %d, want linus", cs[1].ModeratorID)
	}

	// /case show, /cases, /case resolve.
	txt, _ = text(r.command(t, linus, "case show", emulator.Opt("number", 2)))
	if !strings.Contains(txt, "Case #2 · warn") || !strings.Contains(txt, "off-topic 2") {
		t.Errorf("case show: %s", txt)
	}
	txt, _ = text(r.command(t, linus, "case show", emulator.Opt("number", 99)))
	if !strings.Contains(txt, "Case #99 does not exist") {
		t.Errorf("case show 99: %s", txt)
	}
	txt, _ = text(r.command(t, linus, "cases", user(quinn)))
	for _, want := range []string{"**#4** · timeout 1h", "**#3** · warn", "**#1** · warn"} {
		if !strings.Contains(txt, want) {
			t.Errorf("cases lacks %q: %s", want, txt)
		}
	}
	txt, _ = text(r.command(t, linus, "case resolve", emulator.Opt("number", 4), emulator.Opt("note", "talked it through"),
		emulator.Opt("reverse", true)))
	if !strings.Contains(txt, "Case **#4** reversed") {
		t.Errorf("case resolve: %s", txt)
	}
	eventually(t, "the timeout lifted", func() bool { m, _ := e.Member(r.d.GuildID, quinn); return !m.TimedOut() })
	txt, _ = text(r.command(t, linus, "case resolve", emulator.Opt("number", 4), emulator.Opt("note", "again")))
	if !strings.Contains(txt, "already closed") {
		t.Errorf("second resolve: %s", txt)
	}
	if c, _ := r.mod.Case(context.Background(), int64(r.d.GuildID), 4); c.State != moderation.StateReversed || c.Note != "talked it through" {
		t.Errorf("case 4 after resolve: %+v", c)
	}
	// Every case reached the mod-log, and so did the reversal of #4.
	eventually(t, "5 mod-log posts", func() bool { return len(modLog(e, r.d.ModLog)) == 5 })
	posts := modLog(e, r.d.ModLog)
	for i, title := range posts {
		if !strings.HasPrefix(title, "Case #") {
			t.Errorf("mod-log post %d: %q", i, title)
		}
	}
	if !slices.Contains(posts, "Case #4 · timeout reversed: the timeout is removed") {
		t.Errorf("the reversal is not in the mod-log: %q", posts)
	}
}

func TestBanRetriedThrough503s(t *testing.T) {
	e := newQuietEmulator(t)
	r := startRig(t, e, sqliteDB(t), memBus(t))
	runModActions(t, r)
	waitReady(t, e, 2, r.bot)
	tom, linus := r.d.Members["trouble_tom"], r.d.ModeratorID
	if err := e.Fault(emulator.FaultSpec{Route: "PUT /guilds/{g}/bans/{u}", Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	it := r.command(t, linus, "ban", emulator.Opt("user", tom.String()), emulator.Opt("reason", "scam links"))
	embeds, _ := responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "banned · case **#1**") {
		t.Fatalf("ban reply: %s", txt)
	}
	banned := func() bool {
		g, _ := e.Guild(r.d.GuildID)
		return slices.ContainsFunc(g.Bans, func(b emulator.BanState) bool { return b.User.ID == tom })
	}
	eventually(t, "tom banned", banned)
	if n := restCalls(e, "PUT", "/bans/"+tom.String()); n != 3 {
		t.Errorf("%d ban PUTs, want 2 failures and 1 success", n)
	}
	if dm := dmTexts(e, tom); len(dm) != 1 || !strings.Contains(dm[0], "banned") {
		t.Errorf("DMs %q, want one, before the ban, not one per attempt", dm)
	}
	if cs := r.cases(t, moderation.Filter{}); len(cs) != 1 {
		t.Errorf("%d cases, want 1", len(cs))
	}
	// /unban reverses it.
	it = r.command(t, linus, "unban", emulator.Opt("user_id", tom.String()))
	embeds, _ = responseEmbeds(t, it)
	if txt := embedText(embeds); !strings.Contains(txt, "unbanned · case **#2**") {
		t.Fatalf("unban reply: %s", txt)
	}
	eventually(t, "tom unbanned", func() bool { return !banned() })
	if c, _ := r.mod.Case(context.Background(), int64(r.d.GuildID), 1); c.State != moderation.StateReversed {
		t.Errorf("ban case after unban: %+v", c)
	}
}

func TestBadPatternRefusedWhenSaved(t *testing.T) {
	db := sqliteDB(t)
	mod := moderation.NewService(db, memBus(t), moderation.Options{Logger: testLogger()})
	_, err := mod.CreateRule(context.Background(), 1, 2, automod.Rule{Name: "bad", Kind: automod.KindUsername, Enabled: true,
		Pattern: `([a-z`, Action: automod.ActionBan})
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "pattern: not a valid RE2 regular expression") ||
		!strings.Contains(err.Error(), "missing closing ]") {
		t.Fatalf("bad pattern: %v", err)
	}
	if rules, _ := mod.Rules(context.Background(), 1); len(rules) != 0 {
		t.Errorf("a bad rule was saved: %+v", rules)
	}
}
