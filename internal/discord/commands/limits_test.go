package commands

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/disgoorg/disgo/discord"
)

// withinLimits reports the first of Discord's embed limits es breaks.
func withinLimits(es []discord.Embed) string {
	if len(es) > maxEmbeds {
		return "more than 10 embeds"
	}
	n := utf8.RuneCountInString
	total := 0
	for i, e := range es {
		at := "embed " + strconv.Itoa(i) + ": "
		total += n(e.Title) + n(e.Description)
		if e.Footer != nil {
			total += n(e.Footer.Text)
		}
		if n(e.Title) > maxTitle || n(e.Description) > maxDescription {
			return at + "title or description too long"
		}
		if len(e.Fields) > maxFields {
			return at + "more than 25 fields"
		}
		for _, f := range e.Fields {
			total += n(f.Name) + n(f.Value)
			if f.Name == "" || f.Value == "" || n(f.Name) > maxFieldName || n(f.Value) > maxFieldValue {
				return at + "a field empty or too long"
			}
		}
	}
	if total > maxEmbedsTotal {
		return "over 6000 characters in all: " + strconv.Itoa(total)
	}
	return ""
}

func TestFitEmbeds(t *testing.T) {
	ok := []discord.Embed{{Title: "Squads", Description: "two", Fields: []discord.EmbedField{{Name: "a", Value: "b"}},
		Footer: &discord.EmbedFooter{Text: "foot"}}}
	if got := fitEmbeds(ok); !reflect.DeepEqual(got, ok) {
		t.Errorf("a reply within the limits changed: %+v", got)
	}
	if got := fitEmbeds(nil); got != nil {
		t.Errorf("no embeds became %#v", got)
	}

	long := fitEmbeds([]discord.Embed{{Description: strings.Repeat("x", 5000)}})
	if d := long[0].Description; utf8.RuneCountInString(d) != maxDescription || !strings.HasSuffix(d, "…") {
		t.Errorf("a long description: %d runes", utf8.RuneCountInString(d))
	}

	var fields []discord.EmbedField
	for i := range 30 {
		fields = append(fields, discord.EmbedField{Name: "f" + strconv.Itoa(i), Value: "v"})
	}
	many := fitEmbeds([]discord.Embed{{Fields: fields}})[0].Fields
	if len(many) != maxFields || many[23].Name != "f23" || many[24].Value != "and 6 more" {
		t.Errorf("30 fields became %d, the last %+v", len(many), many[len(many)-1])
	}

	// Whatever comes in, what goes out is within every limit.
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(max int) string { return strings.Repeat("é", rng.IntN(max+1)) }
	for range 500 {
		var es []discord.Embed
		for range 1 + rng.IntN(12) {
			e := discord.Embed{Title: text(400), Description: text(6000)}
			if rng.IntN(2) == 0 {
				e.Footer = &discord.EmbedFooter{Text: text(3000)}
			}
			for range rng.IntN(40) {
				e.Fields = append(e.Fields, discord.EmbedField{Name: "n" + text(300), Value: "v" + text(1500)})
			}
			es = append(es, e)
		}
		if msg := withinLimits(fitEmbeds(es)); msg != "" {
			t.Fatal(msg)
		}
	}
}

func TestLineEmbeds(t *testing.T) {
	line := func(i int) string { return "**" + strconv.Itoa(i) + ".** <@123456789012345678> · 1000000 bytes" }
	var lines []string
	for i := range 100 {
		lines = append(lines, line(i))
	}
	es := lineEmbeds("The heap", 1, lines)
	if msg := withinLimits(es); msg != "" || len(es) != 2 || es[0].Title != "The heap" || es[1].Title != "" {
		t.Fatalf("100 lines: %d embeds, %s", len(es), msg)
	}
	var got []string
	for _, e := range es {
		got = append(got, strings.Split(e.Description, "\n")...)
	}
	if !reflect.DeepEqual(got, lines) {
		t.Errorf("the lines are not all there, in order, each whole")
	}

	for i := 100; i < 1000; i++ {
		lines = append(lines, line(i))
	}
	es = lineEmbeds("The heap", 1, lines)
	es[len(es)-1].Footer = &discord.EmbedFooter{Text: "Your rank: #2 with 70 bytes"}
	last := es[len(es)-1].Description
	if msg := withinLimits(es); msg != "" || !strings.HasSuffix(last, " more") || !strings.Contains(last, "…and ") {
		t.Fatalf("1000 lines: %s; ends %q", msg, last[max(0, len(last)-40):])
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello", 6, "hello"},
		{"hello", 4, "hel…"},
		{"hello", 1, "…"},
		{"hello", 0, ""},
		{"", 3, ""},
		{"héllo wörld", 6, "héllo…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"日本語", 3, "日本語"},
	} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
