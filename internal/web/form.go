package web

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/smarterdev/smarterdev/internal/apperr"
)

// form is what the admin typed and what is wrong with it, by field name,
// so a page can show both back next to each field.
type form struct {
	Values url.Values
	Errors map[string]string
}

func newForm(v url.Values) *form { return &form{Values: v, Errors: map[string]string{}} }

// Get returns the typed value of a field.
func (f *form) Get(name string) string { return f.Values.Get(name) }

// Err returns the error of a field, or "".
func (f *form) Err(name string) string { return f.Errors[name] }

// Has reports whether any field has an error.
func (f *form) Has() bool { return len(f.Errors) > 0 }

func (f *form) set(name, msg string) {
	if _, ok := f.Errors[name]; !ok {
		f.Errors[name] = msg
	}
}

// int64Field parses a whole number field; blank is def.
func (f *form) int64Field(name string, def int64) int64 {
	s := strings.TrimSpace(f.Get(name))
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		f.set(name, "That number is too large to store.")
		return def
	}
	if err != nil {
		f.set(name, "Enter a whole number.")
		return def
	}
	return n
}

var between = regexp.MustCompile(`^must be between (-?\d+) and (-?\d+), got -?\d+$`)

// idField parses a Discord id (snowflake) field; blank is 0.
func (f *form) idField(name string) int64 {
	s := strings.TrimSpace(f.Get(name))
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		f.set(name, "Enter a Discord id (digits only).")
		return 0
	}
	return n
}

// idList parses a list of Discord ids separated by commas, spaces or lines.
// Checkboxes send one value each, a typed list one value in all.
func (f *form) idList(name string) []int64 {
	out := []int64{}
	joined := strings.Join(f.Values[name], ", ")
	// One value, all the ids: a form shown again keeps every ticked box, or
	// every id in the typed fallback when Discord has stopped answering.
	f.Values[name] = []string{joined}
	for _, s := range splitList(joined) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			f.set(name, "Enter Discord ids (digits only), separated by commas.")
			return out
		}
		out = append(out, n)
	}
	return out
}

// splitList splits a list typed with commas, spaces or one item a line.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// domain records a domain validation error against its field; it reports
// false for errors that are not about a field.
func (f *form) domain(err error, rename func(string) string) bool {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field == "" {
		return false
	}
	field := ae.Field
	if rename != nil {
		field = rename(field)
	}
	msg := ae.Message
	if p := ae.Field + ": "; strings.HasPrefix(msg, p) {
		msg = msg[len(p):]
	}
	// The domain's range message is written for API clients; an admin reads
	// the range with separators and without their own value repeated back.
	if m := between.FindStringSubmatch(msg); m != nil {
		lo, _ := strconv.ParseInt(m[1], 10, 64)
		hi, _ := strconv.ParseInt(m[2], 10, 64)
		msg = "enter a whole number from " + humanize.Comma(lo) + " to " + humanize.Comma(hi) + "."
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	f.set(field, msg)
	return true
}
