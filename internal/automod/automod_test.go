package automod_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/automod"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func mustCompile(t testing.TB, s automod.Settings, rules ...automod.Rule) *automod.Ruleset {
	t.Helper()
	rs, err := automod.Compile(s, rules)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func msg(user int64, ch int64, content string, at time.Duration) automod.Message {
	return automod.Message{ChannelID: ch, Author: automod.Member{ID: user}, Content: content, At: t0.Add(at)}
}

var spam = automod.Rule{ID: 1, Name: "spam", Kind: automod.KindMessageRate, Enabled: true, Count: 5, WindowSeconds: 10,
	Action: automod.ActionTimeout, TimeoutSeconds: 600}

func TestBurstFiresOnce(t *testing.T) {
	g := automod.NewGuild(mustCompile(t, automod.DefaultSettings(), spam))
	fired := 0
	for i := range 30 {
		v := g.OnMessage(msg(7, 1, fmt.Sprint("hello ", i), time.Duration(i)*100*time.Millisecond))
		fired += len(v)
		if len(v) == 1 && i != 4 {
			t.Fatalf("fired on message %d, want on the 5th", i+1)
		}
	}
	if fired != 1 {
		t.Fatalf("a burst of 30 fired %d times, want once", fired)
	}
	// After a quiet window the rule is armed again.
	for i := range 5 {
		fired += len(g.OnMessage(msg(7, 1, "again", 30*time.Second+time.Duration(i)*time.Millisecond)))
	}
	if fired != 2 {
		t.Fatalf("a second burst after a quiet window: fired %d in total, want 2", fired)
	}
}

func TestSlowTalkerNeverFires(t *testing.T) {
	g := automod.NewGuild(mustCompile(t, automod.DefaultSettings(), spam))
	for i := range 100 {
		if v := g.OnMessage(msg(7, 1, "hi", time.Duration(i)*3*time.Second)); len(v) > 0 {
			t.Fatalf("4 messages per 10 s fired at message %d", i)
		}
	}
}

func TestDuplicateFoldsLookalikes(t *testing.T) {
	dup := automod.Rule{ID: 2, Name: "dupes", Kind: automod.KindDuplicate, Enabled: true, Count: 3, WindowSeconds: 60, Action: automod.ActionDelete}
	g := automod.NewGuild(mustCompile(t, automod.DefaultSettings(), dup))
	variants := []string{"Free Nitro here", "free   nitro HERE", "fгее nіtrо here\u200b"} // Cyrillic г? no: only е, і, о fold
	var got []automod.Verdict
	for i, v := range variants {
		got = append(got, g.OnMessage(msg(7, 1, v, time.Duration(i)*time.Second))...)
	}
	// "г" is not a look-alike of "r", so the third differs: two matches only.
	if len(got) != 0 {
		t.Fatalf("fired on %v", got)
	}
	got = g.OnMessage(msg(7, 1, "ＦＲＥＥ ｎｉｔｒｏ ｈｅｒｅ", 4*time.Second)) // fullwidth
	if len(got) != 1 || !got[0].DeleteMessage {
		t.Fatalf("third copy (fullwidth) should fire a delete, got %+v", got)
	}
	if automod.Normalize("Ｈéllo  Wоrld") != "helloworld" {
		t.Fatalf("Normalize = %q", automod.Normalize("Ｈéllo  Wоrld"))
	}
}

func TestChannelSpread(t *testing.T) {
	r := automod.Rule{ID: 3, Name: "spread", Kind: automod.KindChannelSpread, Enabled: true, Count: 4, WindowSeconds: 30, Action: automod.ActionKick}
	g := automod.NewGuild(mustCompile(t, automod.DefaultSettings(), r))
	for i := range 10 { // many messages in two channels: no spread
		if v := g.OnMessage(msg(9, int64(1+i%2), "x", time.Duration(i)*time.Second)); len(v) > 0 {
			t.Fatalf("two channels fired %+v", v)
		}
	}
	var fired int
	for i := range 4 {
		fired += len(g.OnMessage(msg(9, int64(100+i), "x", 11*time.Second+time.Duration(i)*time.Second)))
	}
	if fired != 1 {
		t.Fatalf("messages in 4+ channels fired %d times, want 1", fired)
	}
}

func TestAttachmentExtensions(t *testing.T) {
	block := automod.Rule{ID: 4, Name: "no exe", Kind: automod.KindAttachment, Enabled: true, Extensions: []string{".EXE", "scr"}, Action: automod.ActionWarn}
	allow := automod.Rule{ID: 5, Name: "images only", Kind: automod.KindAttachment, Enabled: true, AllowList: true, Extensions: []string{"png", "jpg"}, Action: automod.ActionDelete}
	for _, c := range []struct {
		file         string
		block, allow bool
	}{
		{"evil.exe", true, true},
		{"EVIL.EXE", true, true},
		{"evil.exe.", true, true},
		{"evil.exe . ", true, true},
		{"evil\u202Egpj.exe", true, true}, // right-to-left override shows "exe.jpg"
		{"cat.png", false, false},
		{"cat.PNG", false, false},
		{"cat.exe.png", false, false},
		{"README", false, true},
		{"dir\\evil.scr", true, true},
	} {
		g := automod.NewGuild(mustCompile(t, automod.DefaultSettings(), block, allow))
		v := g.OnMessage(automod.Message{Author: automod.Member{ID: 1}, ChannelID: 1, Attachments: []string{c.file}, At: t0})
		var gotBlock, gotAllow bool
		for _, x := range v {
			gotBlock = gotBlock || x.Rule.ID == 4
			gotAllow = gotAllow || x.Rule.ID == 5
			if !x.DeleteMessage {
				t.Errorf("%s: an attachment verdict must delete the message", c.file)
			}
		}
		if gotBlock != c.block || gotAllow != c.allow {
			t.Errorf("%q: block list fired %v (want %v), allow list fired %v (want %v)", c.file, gotBlock, c.block, gotAllow, c.allow)
		}
	}
}

func TestExemptions(t *testing.T) {
	s := automod.DefaultSettings()
	s.ExemptRoles = []int64{50}
	s.ExemptChannels = []int64{60}
	rule := spam
	rule.ExemptRoles = []int64{70}
	g := automod.NewGuild(mustCompile(t, s, rule))
	cases := map[string]automod.Message{
		"guild-exempt role": {ChannelID: 1, Author: automod.Member{ID: 1, Roles: []int64{50}}},
		"rule-exempt role":  {ChannelID: 1, Author: automod.Member{ID: 2, Roles: []int64{70}}},
		"exempt channel":    {ChannelID: 60, Author: automod.Member{ID: 3}},
		"moderator":         {ChannelID: 1, Author: automod.Member{ID: 4, Moderator: true}},
		"bot":               {ChannelID: 1, Author: automod.Member{ID: 5, Bot: true}},
	}
	for name, m := range cases {
		for i := range 20 {
			m.At = t0.Add(time.Duration(i) * time.Millisecond)
			if v := g.OnMessage(m); len(v) > 0 {
				t.Fatalf("%s was acted on: %+v", name, v)
			}
		}
	}
	// Moderators are only exempt while the setting says so.
	s.ModeratorsExempt = false
	g = automod.NewGuild(mustCompile(t, s, spam))
	fired := 0
	for i := range 20 {
		fired += len(g.OnMessage(automod.Message{ChannelID: 1, Author: automod.Member{ID: 4, Moderator: true}, At: t0.Add(time.Duration(i) * time.Millisecond)}))
	}
	if fired != 1 {
		t.Fatalf("moderator without exemption: fired %d, want 1", fired)
	}
}

func TestUsernameRules(t *testing.T) {
	raid := automod.Rule{ID: 6, Name: "raid names", Kind: automod.KindUsername, Enabled: true, Pattern: `^raider\d+$`, MaxAccountAgeDays: 7, Action: automod.ActionBan}
	noAvatar := automod.Rule{ID: 7, Name: "faceless", Kind: automod.KindUsername, Enabled: true, RequireNoAvatar: true, MaxAccountAgeDays: 1, Action: automod.ActionKick}
	rs := mustCompile(t, automod.DefaultSettings(), raid, noAvatar)
	g := automod.NewGuild(rs)
	young := t0.Add(-2 * 24 * time.Hour)
	old := t0.Add(-400 * 24 * time.Hour)
	check := func(m automod.Member, want ...int64) {
		t.Helper()
		v := g.OnJoin(m, t0)
		var got []int64
		for _, x := range v {
			got = append(got, x.Rule.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%+v: fired %v, want %v", m, got, want)
		}
	}
	check(automod.Member{ID: 1, Username: "raider42", CreatedAt: young, HasAvatar: true}, 6)
	check(automod.Member{ID: 2, Username: "RAIDER42", CreatedAt: young, HasAvatar: true}, 6)    // case-insensitive
	check(automod.Member{ID: 3, Username: "rаider42", CreatedAt: young, HasAvatar: true}, 6)    // Cyrillic а
	check(automod.Member{ID: 4, Username: "raider42", CreatedAt: old, HasAvatar: true})         // old account
	check(automod.Member{ID: 5, Username: "alice", CreatedAt: t0.Add(-time.Hour)}, 7)           // faceless newborn
	check(automod.Member{ID: 6, Username: "raider1", CreatedAt: t0.Add(-time.Hour)}, 6, 7)      // both
	check(automod.Member{ID: 7, Username: "raider1", CreatedAt: t0.Add(-time.Hour), Bot: true}) // bots are exempt
}

func TestBadPatternRefusedClearly(t *testing.T) {
	for _, p := range []string{`(unclosed`, `a**`, `(?P<x`, strings.Repeat("a", 600), `((a{100}){100}){100}`} {
		r := automod.Rule{Name: "x", Kind: automod.KindUsername, Enabled: true, Pattern: p, Action: automod.ActionBan}
		err := r.Validate()
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != "pattern" || ae.C != apperr.Invalid {
			t.Errorf("pattern %.20q: err = %v, want an invalid-field error on pattern", p, err)
		}
	}
	r := automod.Rule{Name: "x", Kind: automod.KindUsername, Enabled: true, Pattern: `(unclosed`, Action: automod.ActionBan}
	if err := r.Validate(); !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf("message should say what is wrong: %v", err)
	}
}

func TestValidateNamesFields(t *testing.T) {
	for field, r := range map[string]automod.Rule{
		"name":            {Kind: automod.KindMessageRate, Count: 5, WindowSeconds: 5, Action: automod.ActionWarn},
		"count":           {Name: "n", Kind: automod.KindMessageRate, Count: 1, WindowSeconds: 5, Action: automod.ActionWarn},
		"window_seconds":  {Name: "n", Kind: automod.KindDuplicate, Count: 3, WindowSeconds: 0, Action: automod.ActionWarn},
		"extensions":      {Name: "n", Kind: automod.KindAttachment, Action: automod.ActionWarn},
		"kind":            {Name: "n", Kind: "telepathy", Action: automod.ActionWarn},
		"action":          {Name: "n", Kind: automod.KindMessageRate, Count: 5, WindowSeconds: 5, Action: "shame"},
		"timeout_seconds": {Name: "n", Kind: automod.KindMessageRate, Count: 5, WindowSeconds: 5, Action: automod.ActionTimeout},
	} {
		err := r.Validate()
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != field {
			t.Errorf("want an error on %s, got %v", field, err)
		}
	}
}

func TestTry(t *testing.T) {
	rs := mustCompile(t, automod.DefaultSettings(), spam,
		automod.Rule{ID: 4, Name: "no exe", Kind: automod.KindAttachment, Enabled: true, Extensions: []string{"exe"}, Action: automod.ActionWarn},
		automod.Rule{ID: 6, Name: "raid", Kind: automod.KindUsername, Enabled: true, Pattern: `raid`, Action: automod.ActionBan})
	out := rs.Try(automod.Sample{Username: "xXraidXx", Message: "hi", Filename: "safe.png"})
	got := map[string]bool{}
	for _, o := range out {
		got[o.Rule.Name] = o.Triggered
	}
	if !got["raid"] || got["no exe"] || !got["spam"] {
		t.Fatalf("try: %+v", out)
	}
}

// TestMemoryStaysBounded: members who stop talking are forgotten after two
// windows, so the number remembered tracks recent activity, not history.
func TestMemoryStaysBounded(t *testing.T) {
	g := automod.NewGuild(mustCompile(t, automod.DefaultSettings(), spam))
	peak := 0
	for minute := range 30 {
		for u := range 1000 {
			id := int64(minute*1000 + u) // a new crowd every minute
			g.OnMessage(msg(id, 1, "hi", time.Duration(minute)*time.Minute+time.Duration(u)*time.Millisecond))
		}
		peak = max(peak, g.Tracked())
	}
	if peak > 3000 {
		t.Fatalf("remembered up to %d members with 1000 active per minute and a 10 s window", peak)
	}
}

func BenchmarkOnMessage20Rules(b *testing.B) {
	g := automod.NewGuild(twentyRules(b))
	msgs := make([]automod.Message, 1024)
	for i := range msgs {
		msgs[i] = automod.Message{ChannelID: int64(i % 7), Author: automod.Member{ID: int64(i % 300), Roles: []int64{1, 2}},
			Content: fmt.Sprintf("message number %d with some words in it", i%50), Attachments: nil}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m := msgs[i%len(msgs)]
		m.At = t0.Add(time.Duration(i) * time.Millisecond)
		g.OnMessage(m)
	}
}

func twentyRules(t testing.TB) *automod.Ruleset {
	var rules []automod.Rule
	for i := range 5 {
		rules = append(rules,
			automod.Rule{ID: int64(i*4 + 1), Name: fmt.Sprint("rate", i), Kind: automod.KindMessageRate, Enabled: true, Count: 10 + i, WindowSeconds: 5 + i, Action: automod.ActionTimeout, TimeoutSeconds: 60},
			automod.Rule{ID: int64(i*4 + 2), Name: fmt.Sprint("dup", i), Kind: automod.KindDuplicate, Enabled: true, Count: 4 + i, WindowSeconds: 30, Action: automod.ActionDelete},
			automod.Rule{ID: int64(i*4 + 3), Name: fmt.Sprint("spread", i), Kind: automod.KindChannelSpread, Enabled: true, Count: 5 + i, WindowSeconds: 20, Action: automod.ActionWarn},
			automod.Rule{ID: int64(i*4 + 4), Name: fmt.Sprint("files", i), Kind: automod.KindAttachment, Enabled: true, Extensions: []string{"exe", "scr", "bat"}, Action: automod.ActionWarn})
	}
	return mustCompile(t, automod.DefaultSettings(), rules...)
}

// BenchmarkMemoryMillionMembers reports the heap a million distinct members
// cost: each says one thing once.
func BenchmarkMemoryMillionMembers(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g := automod.NewGuild(twentyRules(b))
		for u := range 1_000_000 {
			g.OnMessage(automod.Message{ChannelID: int64(u % 10), Author: automod.Member{ID: int64(u)}, Content: "hi", At: t0.Add(time.Duration(u) * time.Microsecond)})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "MB")
		b.ReportMetric(float64(g.Tracked()), "members")
		runtime.KeepAlive(g)
	}
}

// BenchmarkDecodeMessageCreate is the reference for BenchmarkOnMessage20Rules:
// decoding the gateway's MESSAGE_CREATE payload, which the bot does for every
// message with or without automod.
func BenchmarkDecodeMessageCreate(b *testing.B) {
	payload := []byte(`{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"id":"1300000000000000042","channel_id":"1200000000000000003",
"guild_id":"1100000000000000001","author":{"id":"1000000000000000777","username":"alice","global_name":"Alice","avatar":null,"bot":false},
"member":{"roles":["1300000000000000001","1300000000000000002"],"joined_at":"2026-01-01T00:00:00Z","nick":null},
"content":"message number 7 with some words in it","timestamp":"2026-05-01T12:00:00.000000+00:00","edited_timestamp":null,
"tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],"embeds":[],"pinned":false,"type":0}}`)
	type user struct {
		ID       string  `json:"id"`
		Username string  `json:"username"`
		Global   *string `json:"global_name"`
		Avatar   *string `json:"avatar"`
		Bot      bool    `json:"bot"`
	}
	type event struct {
		T string `json:"t"`
		S int64  `json:"s"`
		D struct {
			ID        string `json:"id"`
			ChannelID string `json:"channel_id"`
			GuildID   string `json:"guild_id"`
			Author    user   `json:"author"`
			Member    struct {
				Roles []string `json:"roles"`
			} `json:"member"`
			Content     string `json:"content"`
			Timestamp   string `json:"timestamp"`
			Attachments []struct {
				Filename string `json:"filename"`
			} `json:"attachments"`
		} `json:"d"`
	}
	b.ReportAllocs()
	for b.Loop() {
		var e event
		if err := json.Unmarshal(payload, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryOverTime streams ten waves of 200,000 new members, one wave
// per window, and reports the largest and the last heap: with eviction both
// stay near one wave's worth instead of growing to two million members.
func BenchmarkMemoryOverTime(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		g := automod.NewGuild(twentyRules(b))
		var peak, last float64
		for wave := range 10 {
			start := t0.Add(time.Duration(wave) * 31 * time.Second) // past the longest window (30 s)
			for u := range 200_000 {
				g.OnMessage(automod.Message{ChannelID: 1, Author: automod.Member{ID: int64(wave*200_000 + u)}, Content: "hi",
					At: start.Add(time.Duration(u) * time.Microsecond)})
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			last = float64(ms.HeapAlloc-base.HeapAlloc) / 1e6
			peak = max(peak, last)
		}
		b.ReportMetric(peak, "peak-MB")
		b.ReportMetric(last, "last-MB")
		b.ReportMetric(float64(g.Tracked()), "tracked")
		runtime.KeepAlive(g)
	}
}
