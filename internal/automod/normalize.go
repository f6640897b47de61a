package automod

import (
	"hash/maphash"
	"path"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// lookalikes folds characters that spammers swap in for Latin letters
// (Cyrillic and Greek homoglyphs, digits used as letters) after case folding.
var lookalikes = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ɡ': 'g', 'ӏ': 'l',
	'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x',
}

// leet folds digits and signs used as letters; only for comparing messages,
// since in names the digits themselves often matter to a pattern.
var leet = map[rune]rune{'0': 'o', '1': 'l', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's', '|': 'l'}

// Normalize folds a message so that trivially varied copies compare equal:
// compatibility forms (fullwidth, ligatures, accents stripped), case,
// look-alike characters, and all white space and invisible characters removed.
func Normalize(s string) string { return fold(s, true) }

// Skeleton folds a name like Normalize but keeps digits and signs, so
// patterns over names (e.g. raider\d+) still see them.
func Skeleton(s string) string { return fold(s, false) }

func fold(s string, withLeet bool) string {
	s = width.Fold.String(s)
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), unicode.IsSpace(r), unicode.Is(unicode.Cf, r), unicode.IsControl(r):
			continue // accents, spaces, zero-width and direction marks
		}
		r = unicode.ToLower(r)
		if l, ok := lookalikes[r]; ok {
			r = l
		} else if l, ok := leet[r]; ok && withLeet {
			r = l
		}
		b.WriteRune(r)
	}
	return b.String()
}

var seed = maphash.MakeSeed()

// Fingerprint is a 64-bit hash of the normalized message.
func Fingerprint(s string) uint64 { return maphash.String(seed, Normalize(s)) }

// Extension returns the extension a file really ends up with: lower case,
// after dropping trailing dots and spaces (which Windows strips on save) and
// invisible direction characters, so "evil.exe." and "EVIL.EXE" are "exe".
// A name without one yields "".
func Extension(filename string) string {
	var b strings.Builder
	for _, r := range filename {
		if unicode.Is(unicode.Cf, r) || unicode.IsControl(r) {
			continue
		}
		b.WriteRune(r)
	}
	name := strings.TrimRight(b.String(), ". \t")
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return ""
	}
	return strings.ToLower(name[i+1:])
}
