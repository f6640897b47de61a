package automod

import (
	"fmt"
	"time"
)

// Sample is what a moderator types into the "try it" box.
type Sample struct {
	Username string `json:"username,omitempty"`
	Message  string `json:"message,omitempty"`
	Filename string `json:"filename,omitempty"`
	// AccountAgeDays and NoAvatar describe the sample account for username
	// rules; by default a day-old account without an avatar, a raider's.
	AccountAgeDays *int  `json:"account_age_days,omitempty"`
	NoAvatar       *bool `json:"no_avatar,omitempty"`
}

// Outcome is what one rule would do with a sample.
type Outcome struct {
	Rule      Rule   `json:"rule"`
	Triggered bool   `json:"triggered"`
	Action    Action `json:"action,omitempty"`
	Why       string `json:"why"`
}

// Try shows which rules the sample would trigger. Windowed rules are tried
// by sending the message as often as the rule counts (in one channel, or in
// as many channels for the spread rule), so a moderator sees at which point a
// burst of it would be acted on. Nothing is remembered.
func (rs *Ruleset) Try(s Sample) []Outcome {
	now := time.Now()
	age, noAvatar := 1, true
	if s.AccountAgeDays != nil {
		age = *s.AccountAgeDays
	}
	if s.NoAvatar != nil {
		noAvatar = *s.NoAvatar
	}
	var out []Outcome
	for _, c := range rs.rules {
		o := Outcome{Rule: c.Rule, Action: c.Action}
		one := &Ruleset{Settings: Settings{}, rules: []compiled{c}, window: c.Window(), keep: max(c.Count*2, 1), needPrint: c.Kind == KindDuplicate}
		switch c.Kind {
		case KindUsername:
			if s.Username == "" {
				o.Why = "no username given"
				break
			}
			m := Member{ID: 1, Username: s.Username, HasAvatar: !noAvatar, CreatedAt: now.Add(-time.Duration(age) * 24 * time.Hour)}
			if v := one.join(m, now); len(v) > 0 {
				o.Triggered, o.Why = true, v[0].Reason
			} else {
				o.Why = "the username does not match"
			}
		case KindAttachment:
			if s.Filename == "" {
				o.Why = "no file name given"
				break
			}
			o.Triggered, o.Why = attachmentHit(c.Rule, []string{s.Filename})
			if !o.Triggered {
				o.Why = fmt.Sprintf("file type %q is allowed", "."+Extension(s.Filename))
			}
		default:
			if s.Message == "" {
				o.Why = "no message given"
				break
			}
			g := NewGuild(one)
			for i := range c.Count {
				ch := int64(1)
				if c.Kind == KindChannelSpread {
					ch = int64(i + 1)
				}
				if v := g.OnMessage(Message{ChannelID: ch, Author: Member{ID: 1}, Content: s.Message, At: now.Add(time.Duration(i) * time.Millisecond)}); len(v) > 0 {
					o.Triggered = true
					o.Why = fmt.Sprintf("sent %d times within %ds: %s", i+1, c.WindowSeconds, v[0].Reason)
					break
				}
			}
			if !o.Triggered {
				o.Why = "a burst of this message would not trigger it"
			}
		}
		out = append(out, o)
	}
	return out
}
