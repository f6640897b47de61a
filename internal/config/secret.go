package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Secret holds a value that must never be printed. Every way of formatting,
// logging or marshalling it shows a mask, so a Config (or a part of it) can be
// logged by mistake without leaking; Value is the one explicit way out.
type Secret string

const mask = "[redacted]"

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return mask
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format covers every verb, including %q and %x.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue masks the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the value in JSON and other encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RedactURL shows where a database or Redis URL points (scheme, user, host,
// database) without its password or query, which may carry one too.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if strings.HasPrefix(raw, "sqlite:") {
		p, _, _ := strings.Cut(raw, "?")
		return p
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return mask
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			out.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			out.User = url.User(u.User.Username())
		}
	}
	return out.String()
}

// LogValue is how a Config appears in logs: everything useful for an
// operator, secrets reduced to whether they are set.
func (c Config) LogValue() slog.Value {
	set := func(s Secret) bool { return s.IsSet() }
	return slog.GroupValue(
		slog.String("database", RedactURL(c.DatabaseURL.Value())),
		slog.Int("database_max_conns", c.DatabaseMaxConns),
		slog.String("redis", RedactURL(c.RedisURL.Value())),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("public_url", c.PublicURL),
		slog.Bool("session_key_set", set(c.SessionKey)),
		slog.Bool("discord_token_set", set(c.Discord.Token)),
		slog.Bool("discord_public_key_set", set(c.Discord.PublicKey)),
		slog.Bool("discord_client_secret_set", set(c.Discord.ClientSecret)),
		slog.String("discord_api_url", c.Discord.APIURL),
		slog.String("discord_gateway_url", c.Discord.GatewayURL),
		slog.String("discord_client_id", c.Discord.ClientID),
		slog.Int64("discord_guild_id", c.Discord.GuildID),
		slog.Any("shard_ids", c.ShardIDs),
		slog.Int("shard_count", c.ShardCount),
		slog.Int("operators", len(c.OperatorIDs)),
		slog.Bool("dev_mode", c.DevMode),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.String("shutdown_grace", c.ShutdownGrace.String()),
		slog.Bool("metrics_per_guild", c.MetricsPerGuild),
		slog.Int("traces_per_second", c.TracesPerSecond),
		slog.String("backup_max_age", c.BackupMaxAge.String()),
	)
}

// String renders LogValue as key=value pairs, so fmt never shows a secret.
func (c Config) String() string {
	var b strings.Builder
	for i, a := range c.LogValue().Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", a.Key, a.Value)
	}
	return b.String()
}

// GoString keeps %#v as safe as %v.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }
