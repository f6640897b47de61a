package automod

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Member is the author of an event, as Discord describes them.
type Member struct {
	ID          int64
	Username    string
	DisplayName string
	Roles       []int64
	Bot         bool
	Moderator   bool // holds a moderation permission in the guild
	HasAvatar   bool
	CreatedAt   time.Time // from the user id's snowflake
}

// Message is one message to evaluate.
type Message struct {
	ID          int64
	ChannelID   int64
	Author      Member
	Content     string
	Attachments []string // file names
	At          time.Time
}

// Verdict is a rule that fired and what to do about it.
type Verdict struct {
	Rule          Rule
	Action        Action
	Reason        string // for the case and the member: which rule and why
	DeleteMessage bool
}

type compiled struct {
	Rule
	re *regexp.Regexp
}

// Ruleset is a guild's settings and rules, compiled once per change.
type Ruleset struct {
	Settings  Settings
	rules     []compiled
	window    time.Duration // the longest window of any message rule
	keep      int           // events kept per member
	needPrint bool          // some rule compares message contents
}

// Compile validates and compiles rules; disabled rules are left out.
func Compile(s Settings, rules []Rule) (*Ruleset, error) {
	rs := &Ruleset{Settings: s, keep: 1}
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Name, err)
		}
		c := compiled{Rule: r}
		if r.Kind == KindUsername && r.Pattern != "" {
			re, err := CompilePattern(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", r.Name, err)
			}
			c.re = re
		}
		switch r.Kind {
		case KindMessageRate, KindDuplicate, KindChannelSpread:
			rs.window = max(rs.window, r.Window())
			keep := r.Count
			if r.Kind != KindMessageRate {
				// Other messages in between must not push out the ones that count.
				keep = min(4*r.Count, maxKeep)
			}
			rs.keep = max(rs.keep, keep)
			rs.needPrint = rs.needPrint || r.Kind == KindDuplicate
		}
		rs.rules = append(rs.rules, c)
	}
	return rs, nil
}

// Rules returns the compiled rules.
func (rs *Ruleset) Rules() []Rule {
	out := make([]Rule, len(rs.rules))
	for i, c := range rs.rules {
		out[i] = c.Rule
	}
	return out
}

func (rs *Ruleset) exempt(m Member, channel int64, r *Rule) bool {
	if m.Bot || (m.Moderator && rs.Settings.ModeratorsExempt) {
		return true
	}
	if channel != 0 && (slices.Contains(rs.Settings.ExemptChannels, channel) || (r != nil && slices.Contains(r.ExemptChannels, channel))) {
		return true
	}
	for _, role := range m.Roles {
		if slices.Contains(rs.Settings.ExemptRoles, role) || (r != nil && slices.Contains(r.ExemptRoles, role)) {
			return true
		}
	}
	return false
}

// maxKeep bounds the events remembered per member.
const maxKeep = 2 * MaxCount

// event is one remembered message: 24 bytes, so a million members who each
// said something fit in well under 200 MB.
type event struct {
	at int64  // unix milliseconds
	fp uint64 // content fingerprint, 0 when no rule needs it
	ch uint32 // channel id folded to 32 bits: enough to count distinct channels
}

type firing struct {
	rule  int64 // rule id
	until int64 // unix ms; the rule stays quiet for this member until then
}

type memberState struct {
	events []event
	quiet  []firing
}

// Guild is one guild's evaluator. Its memory is bounded: members are kept in
// two generations that rotate every window, so a member silent for two
// windows is forgotten whatever the number of members who ever talked.
type Guild struct {
	mu        sync.Mutex
	rs        *Ruleset
	cur, prev map[int64]memberState
	rotated   int64 // unix ms of the last rotation
}

// NewGuild returns an evaluator for rs.
func NewGuild(rs *Ruleset) *Guild {
	return &Guild{rs: rs, cur: map[int64]memberState{}, prev: map[int64]memberState{}}
}

// SetRuleset swaps the rules, keeping what the evaluator remembers.
func (g *Guild) SetRuleset(rs *Ruleset) {
	g.mu.Lock()
	g.rs = rs
	g.mu.Unlock()
}

// Ruleset returns the rules in force.
func (g *Guild) Ruleset() *Ruleset {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rs
}

// Tracked is how many members the evaluator remembers now.
func (g *Guild) Tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.cur) + len(g.prev)
}

// generation is how often members rotate: the longest window, at least 10 s.
func (g *Guild) generation() int64 { return max(g.rs.window, 10*time.Second).Milliseconds() }

func (g *Guild) rotate(now int64) {
	if now-g.rotated < g.generation() {
		return
	}
	g.prev, g.cur = g.cur, make(map[int64]memberState, len(g.cur)/2)
	g.rotated = now
}

func (g *Guild) load(id int64) memberState {
	if st, ok := g.cur[id]; ok {
		return st
	}
	if st, ok := g.prev[id]; ok {
		delete(g.prev, id)
		return st
	}
	return memberState{}
}

// OnMessage records a message and returns the verdicts of the rules it breaks.
// A burst fires each windowed rule once: after firing, a rule stays quiet for
// the member while the burst goes on and for one window after it.
func (g *Guild) OnMessage(m Message) []Verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := g.rs
	if len(rs.rules) == 0 || rs.exempt(m.Author, m.ChannelID, nil) {
		return nil
	}
	now := m.At.UnixMilli()
	g.rotate(now)
	st := g.load(m.Author.ID)
	ev := event{at: now, ch: uint32(m.ChannelID) ^ uint32(m.ChannelID>>32)}
	if rs.needPrint && m.Content != "" {
		ev.fp = Fingerprint(m.Content)
	}
	// Drop what no window can see any more, and keep at most rs.keep events.
	cut := now - rs.window.Milliseconds()
	i := 0
	for i < len(st.events) && st.events[i].at <= cut {
		i++
	}
	st.events = append(st.events[i:], ev)
	if len(st.events) > rs.keep {
		st.events = st.events[len(st.events)-rs.keep:]
	}
	if len(st.events) < cap(st.events)/4 {
		st.events = slices.Clip(slices.Clone(st.events)) // give back memory after a burst
	}

	var out []Verdict
	for ri := range rs.rules {
		r := &rs.rules[ri]
		if r.Kind == KindUsername || rs.exempt(m.Author, m.ChannelID, &r.Rule) {
			continue
		}
		// Counts first; words only for a hit, to keep the common path free of allocations.
		var hit bool
		var n int
		var why string
		switch r.Kind {
		case KindAttachment:
			hit, why = attachmentHit(r.Rule, m.Attachments)
		case KindMessageRate:
			n = countSince(st.events, now-r.Window().Milliseconds(), func(event) bool { return true })
			hit = n >= r.Count
		case KindDuplicate:
			if ev.fp != 0 {
				n = countSince(st.events, now-r.Window().Milliseconds(), func(e event) bool { return e.fp == ev.fp })
				hit = n >= r.Count
			}
		case KindChannelSpread:
			n = distinctChannels(st.events, now-r.Window().Milliseconds())
			hit = n >= r.Count
		}
		if !hit {
			continue
		}
		if r.Kind != KindAttachment && st.quietFor(r.ID, now, r.Window().Milliseconds()) {
			continue
		}
		switch r.Kind {
		case KindMessageRate:
			why = fmt.Sprintf("%d messages within %ds", n, r.WindowSeconds)
		case KindDuplicate:
			why = fmt.Sprintf("the same message %d times within %ds", n, r.WindowSeconds)
		case KindChannelSpread:
			why = fmt.Sprintf("messages in %d channels within %ds", n, r.WindowSeconds)
		}
		out = append(out, verdict(r.Rule, why, r.Action == ActionDelete || r.DeleteMessage || r.Kind == KindAttachment))
	}
	st.expireQuiet(now)
	g.cur[m.Author.ID] = st
	return out
}

// quietFor reports whether rule is quiet for this member at now, and (re)arms
// the quiet period: the first hit of a burst returns false, later hits true.
func (st *memberState) quietFor(rule, now, window int64) bool {
	for i := range st.quiet {
		if st.quiet[i].rule == rule {
			quiet := st.quiet[i].until > now
			st.quiet[i].until = now + window
			return quiet
		}
	}
	st.quiet = append(st.quiet, firing{rule: rule, until: now + window})
	return false
}

func (st *memberState) expireQuiet(now int64) {
	st.quiet = slices.DeleteFunc(st.quiet, func(f firing) bool { return f.until <= now })
	if len(st.quiet) == 0 {
		st.quiet = nil
	}
}

func countSince(events []event, since int64, match func(event) bool) int {
	n := 0
	for i := len(events) - 1; i >= 0 && events[i].at > since; i-- {
		if match(events[i]) {
			n++
		}
	}
	return n
}

func distinctChannels(events []event, since int64) int {
	var seen [maxKeep]uint32
	n := 0
	for i := len(events) - 1; i >= 0 && events[i].at > since; i-- {
		if !slices.Contains(seen[:n], events[i].ch) && n < len(seen) {
			seen[n] = events[i].ch
			n++
		}
	}
	return n
}

func attachmentHit(r Rule, files []string) (bool, string) {
	for _, f := range files {
		ext := Extension(f)
		listed := slices.Contains(r.Extensions, ext)
		if r.AllowList && !listed {
			if ext == "" {
				return true, fmt.Sprintf("file %q has no extension and only %v are allowed", f, r.Extensions)
			}
			return true, fmt.Sprintf("file type .%s is not allowed (%q)", ext, f)
		}
		if !r.AllowList && listed {
			return true, fmt.Sprintf("file type .%s is blocked (%q)", ext, f)
		}
	}
	return false, ""
}

func verdict(r Rule, why string, del bool) Verdict {
	reason := r.Name + ": " + why
	if r.Reason != "" {
		reason = r.Reason + " (" + r.Name + ": " + why + ")"
	}
	return Verdict{Rule: r, Action: r.Action, Reason: reason, DeleteMessage: del}
}

// OnJoin evaluates the username rules for a member who just joined.
func (g *Guild) OnJoin(m Member, at time.Time) []Verdict {
	g.mu.Lock()
	rs := g.rs
	g.mu.Unlock()
	return rs.join(m, at)
}

func (rs *Ruleset) join(m Member, at time.Time) []Verdict {
	if rs.exempt(m, 0, nil) {
		return nil
	}
	var out []Verdict
	for ri := range rs.rules {
		r := &rs.rules[ri]
		if r.Kind != KindUsername || rs.exempt(m, 0, &r.Rule) {
			continue
		}
		var why []string
		if r.re != nil {
			name := ""
			for _, n := range []string{m.Username, m.DisplayName, Skeleton(m.Username), Skeleton(m.DisplayName)} {
				if n != "" && r.re.MatchString(n) {
					name = n
					break
				}
			}
			if name == "" {
				continue
			}
			why = append(why, fmt.Sprintf("name %q matches %q", name, r.Pattern))
		}
		if r.MaxAccountAgeDays > 0 {
			age := at.Sub(m.CreatedAt)
			if m.CreatedAt.IsZero() || age >= time.Duration(r.MaxAccountAgeDays)*24*time.Hour {
				continue
			}
			why = append(why, fmt.Sprintf("account %s old", roundAge(age)))
		}
		if r.RequireNoAvatar {
			if m.HasAvatar {
				continue
			}
			why = append(why, "no avatar")
		}
		out = append(out, verdict(r.Rule, joinWords(why), false))
	}
	return out
}

func roundAge(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func joinWords(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return s
}
