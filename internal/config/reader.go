package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// reader keeps the first error, so Load reads straight down the list of
// variables and still reports exactly one line.
type reader struct {
	getenv func(string) string
	err    error
}

func (r *reader) get(name string) string { return strings.TrimSpace(r.getenv(name)) }

// fail records a problem with a plain (non-secret) value.
func (r *reader) fail(name, value, msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s=%q: %s", name, value, msg)
	}
}

// failf records a problem without repeating the value (secrets, or messages
// that already name it).
func (r *reader) failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// secret reads name or name_FILE and validates it with check, which returns a
// message that must not contain the value, or "".
func (r *reader) secret(name, def string, check func(string) string) Secret {
	fileVar := name + "_FILE"
	v, path := r.get(name), r.get(fileVar)
	source := name
	switch {
	case v != "" && path != "":
		r.failf("%s and %s are both set: want only one of them", name, fileVar)
		return ""
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			r.fail(fileVar, path, fmt.Sprintf("cannot read the file (%v): want the path of a readable file that holds %s", err, name))
			return ""
		}
		v = strings.TrimRight(string(b), "\r\n")
		if v == "" {
			r.fail(fileVar, path, fmt.Sprintf("the file is empty: want a file that holds %s", name))
			return ""
		}
		source = name + " (read from " + fileVar + ")"
	case v == "":
		return Secret(def)
	}
	if msg := check(v); msg != "" {
		r.failf("%s: %s", source, msg)
		return ""
	}
	return Secret(v)
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,15}$`)

// schemeOf returns the URL scheme when it is safe to repeat in a message.
func schemeOf(v string) string {
	s, _, ok := strings.Cut(v, ":")
	if !ok || !schemeRE.MatchString(s) {
		return ""
	}
	return s
}

func checkDatabaseURL(v string) string {
	const want = "want sqlite:PATH (e.g. sqlite:./data/smarterdev.db) or postgres://USER:PASSWORD@HOST:5432/DB"
	switch {
	case strings.HasPrefix(v, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return "the sqlite URL has no file path: " + want
		}
		return ""
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			return "not a valid URL (check that special characters in the password are percent-encoded): " + want
		}
		return ""
	}
	if s := schemeOf(v); s != "" {
		return fmt.Sprintf("scheme %q is not supported: %s", s, want)
	}
	return "not a database URL: " + want
}

func checkRedisURL(v string) string {
	const want = "want redis://[USER:PASSWORD@]HOST:6379[/DB] or rediss://... for TLS"
	// ParseURL's own errors may quote the URL, so they are not repeated.
	if _, err := redis.ParseURL(v); err != nil {
		if s := schemeOf(v); s != "" && s != "redis" && s != "rediss" && s != "unix" {
			return fmt.Sprintf("scheme %q is not supported: %s", s, want)
		}
		return "not a valid Redis URL: " + want
	}
	return ""
}

func checkWebhookURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "not a webhook URL: want https://HOST/PATH as the service shows it"
	}
	return ""
}

// timestamp reads an RFC 3339 instant; unset is the zero time.
func (r *reader) timestamp(name string) time.Time {
	v := r.get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		r.fail(name, v, "not a timestamp: want RFC 3339, e.g. 2026-11-22T18:00:00Z")
		return time.Time{}
	}
	return t
}

func checkToken(v string) string {
	if strings.ContainsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		return "contains whitespace: want the value exactly as the Discord developer portal shows it"
	}
	return ""
}

func checkPublicKey(v string) string {
	const want = "want the 64 hex characters of the application's public key from the Discord developer portal"
	if len(v) != 64 {
		return fmt.Sprintf("has %d characters: %s", len(v), want)
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "is not hexadecimal: " + want
	}
	return ""
}

func checkSessionKey(v string) string {
	const want = "want 64 hex characters (32 random bytes), e.g. the output of `openssl rand -hex 32`"
	if len(v) != 64 {
		return fmt.Sprintf("has %d characters: %s", len(v), want)
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "is not hexadecimal: " + want
	}
	return ""
}

// publicURL reads the address browsers reach the dashboard at: an http(s)
// URL with a host and nothing after it, returned without a trailing slash.
func (r *reader) publicURL(name string) string {
	v := r.get(name)
	if v == "" {
		return ""
	}
	const want = "want the dashboard's address as browsers see it, scheme and host only, e.g. https://dash.example.com"
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		r.fail(name, v, want)
	case u.Scheme != "https" && u.Scheme != "http":
		r.fail(name, v, fmt.Sprintf("scheme %q is not supported: %s", u.Scheme, want))
	case u.User != nil:
		r.failf("%s: must not contain a user or password: %s", name, want)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		r.fail(name, v, "the dashboard is served at the root of its host, so a path, query or fragment cannot work: "+want)
	default:
		return u.Scheme + "://" + u.Host
	}
	return ""
}

func (r *reader) hostPort(name, def string) string {
	v := r.get(name)
	if v == "" {
		return def
	}
	const want = "want host:port, e.g. 127.0.0.1:8080 (or :8080 for every interface)"
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		r.fail(name, v, want)
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		r.fail(name, v, "the port must be a number from 0 to 65535: "+want)
		return ""
	}
	return v
}

func (r *reader) url(name, example string, schemes ...string) string {
	v := r.get(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Host == "" || !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		r.fail(name, v, fmt.Sprintf("want an absolute %s:// or %s:// URL, e.g. %s", schemes[0], schemes[1], example))
		return ""
	}
	if u.User != nil {
		r.failf("%s: must not contain a user or password: want e.g. %s", name, example)
		return ""
	}
	return v
}

const snowflakeExample = "175928847299117063"

func parseSnowflake(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && s[0] != '+'
}

func (r *reader) snowflake(name string) int64 {
	v := r.get(name)
	if v == "" {
		return 0
	}
	n, ok := parseSnowflake(v)
	if !ok {
		r.fail(name, v, "want a Discord snowflake (a positive decimal number), e.g. "+snowflakeExample)
		return 0
	}
	return n
}

func (r *reader) snowflakes(name string) []int64 {
	v := r.get(name)
	if v == "" {
		return nil
	}
	var out []int64
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		n, ok := parseSnowflake(item)
		if !ok {
			r.fail(name, v, fmt.Sprintf("%q is not a snowflake: want comma-separated Discord user ids, e.g. %s,80351110224678912", item, snowflakeExample))
			return nil
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (r *reader) shardIDs(name string, count int) []int {
	v := r.get(name)
	if v == "" {
		return nil
	}
	want := fmt.Sprintf("want comma-separated shard numbers from 0 to %d (%s is %d), e.g. 0,1", count-1, EnvShardCount, count)
	var out []int
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		n, err := strconv.Atoi(item)
		switch {
		case err != nil || n < 0:
			r.fail(name, v, fmt.Sprintf("%q is not a shard number: %s", item, want))
			return nil
		case n >= count:
			r.fail(name, v, fmt.Sprintf("shard %d does not exist: %s", n, want))
			return nil
		case slices.Contains(out, n):
			r.fail(name, v, fmt.Sprintf("shard %d is listed twice: %s", n, want))
			return nil
		}
		out = append(out, n)
	}
	return out
}

func (r *reader) intRange(name string, def, lo, hi int) int {
	v := r.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("want a whole number from %d to %d, e.g. %d", lo, hi, def))
		return def
	}
	return n
}

func (r *reader) durationRange(name string, def, lo, hi time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail(name, v, fmt.Sprintf("want a duration from %s to %s, e.g. %s", ShortDuration(lo), ShortDuration(hi), ShortDuration(def)))
		return def
	}
	return d
}

// durationOrOff is durationRange that also takes 0 (any zero duration, e.g.
// "0" or "0s") to mean off.
func (r *reader) durationOrOff(name string, def, lo, hi time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err == nil && d == 0 {
		return 0
	}
	if err != nil || d < lo || d > hi {
		r.fail(name, v, fmt.Sprintf("want 0 (off) or a duration from %s to %s, e.g. %s", ShortDuration(lo), ShortDuration(hi), ShortDuration(def)))
		return def
	}
	return d
}

// ShortDuration prints 10m rather than 10m0s, as people write durations.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (r *reader) bool(name string) bool { return r.boolDefault(name, false) }

func (r *reader) boolDefault(name string, def bool) bool {
	v := r.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "want true or false")
	}
	return b
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.get(name))
	if v == "" {
		return def
	}
	if !slices.Contains(allowed, v) {
		r.fail(name, r.get(name), "want one of "+strings.Join(allowed, ", "))
		return def
	}
	return v
}

func (r *reader) logLevel(name string) slog.Level {
	switch r.oneOf(name, "info", "debug", "info", "warn", "error") {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
