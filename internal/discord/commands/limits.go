package commands

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/disgoorg/disgo/discord"
)

// Discord's embed limits. Discord refuses the whole message when one is
// exceeded, so the member would see "the application did not respond"
// instead of a shortened answer.
const (
	maxEmbeds      = 10
	maxTitle       = 256
	maxDescription = 4096
	maxFields      = 25
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxFooter      = 2048
	maxEmbedsTotal = 6000 // every title, description, field, footer and author name of a message

	maxSelectOptions = 25
)

// truncate cuts s to at most n runes, the last one an ellipsis. Every
// reply's text passes through it (fitEmbeds): text that fits is returned
// without being copied.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut, kept := 0, 0
	for i := range s { // byte offsets of runes
		if kept == n-1 {
			cut = i
			break
		}
		kept++
	}
	return s[:cut] + "…"
}

// lineEmbeds lays lines out as the descriptions of as many embeds as they
// need, the first titled, each cut at a line boundary, within the message's
// total; lines that do not fit are counted in a last line, "…and N more".
// The caller may set a footer on the last embed; fitEmbeds then makes
// room for it.
func lineEmbeds(title string, color int, lines []string) []discord.Embed {
	const more = 24    // room for "…and N more"
	const footer = 200 // room for a short footer the caller may add
	budget := maxEmbedsTotal - utf8.RuneCountInString(title) - more - footer
	embeds := []discord.Embed{{Title: title, Color: color}}
	var b strings.Builder
	size := 0 // runes in b
	flush := func() {
		embeds[len(embeds)-1].Description = strings.TrimSuffix(b.String(), "\n")
		b.Reset()
		size = 0
	}
	for i, l := range lines {
		n := utf8.RuneCountInString(l) + 1
		full := size+n > maxDescription-more
		if n > budget || full && len(embeds) == maxEmbeds {
			b.WriteString("…and " + strconv.Itoa(len(lines)-i) + " more")
			break
		}
		if full {
			flush()
			embeds = append(embeds, discord.Embed{Color: color})
		}
		b.WriteString(l + "\n")
		size += n
		budget -= n
	}
	flush()
	return embeds
}

// fitEmbeds makes a reply's embeds fit Discord's limits: long text is cut
// with an ellipsis, fields beyond what fits are replaced by a last one
// saying how many were left out, and embeds beyond ten, or beyond the
// message's total, are dropped. A reply already within the limits is
// returned unchanged.
func fitEmbeds(in []discord.Embed) []discord.Embed {
	if len(in) == 0 {
		return in
	}
	if len(in) > maxEmbeds {
		in = in[:maxEmbeds]
	}
	const reserve = 24 // for the "…" field saying how many were left out
	budget := maxEmbedsTotal
	take := func(s string, limit int) string {
		s = truncate(s, min(limit, budget-reserve))
		budget -= utf8.RuneCountInString(s)
		return s
	}
	out := make([]discord.Embed, 0, len(in))
	for _, e := range in {
		if budget-reserve < 2 {
			break // nothing left for another embed
		}
		e.Title = take(e.Title, maxTitle)
		if e.Author != nil {
			a := *e.Author
			a.Name = take(a.Name, maxTitle)
			e.Author = &a
		}
		if e.Footer != nil {
			f := *e.Footer
			f.Text = take(f.Text, maxFooter)
			e.Footer = &f
		}
		e.Description = take(e.Description, maxDescription)
		if len(e.Fields) > 0 {
			kept := make([]discord.EmbedField, 0, min(len(e.Fields), maxFields))
			left := 0
			for j, f := range e.Fields {
				// The last of 25 places is the "…" field's when more follow,
				// and a field needs a name and a value of a rune or more.
				if len(kept) == maxFields-1 && len(e.Fields) > maxFields || budget-reserve < 2 {
					left = len(e.Fields) - j
					break
				}
				f.Name = take(f.Name, min(maxFieldName, budget-reserve-1))
				f.Value = take(f.Value, maxFieldValue)
				kept = append(kept, f)
			}
			if left > 0 {
				more := discord.EmbedField{Name: "…", Value: "and " + strconv.Itoa(left) + " more"}
				budget -= utf8.RuneCountInString(more.Name) + utf8.RuneCountInString(more.Value)
				kept = append(kept, more)
			}
			e.Fields = kept
		}
		out = append(out, e)
	}
	return out
}
