// Package config reads the process configuration from SMARTERDEV_* environment
// variables once at startup and hands the result around as a value; nothing
// here is global.
//
// It is plain code rather than github.com/caarlos0/env: that library's file
// option reads a path from the variable itself instead of a VAR_FILE sibling,
// and its errors quote the offending value, which would leak secrets. Every
// error here is one line that names the variable, says what is wrong and shows
// a good value, and never repeats a secret.
package config

import (
	"log/slog"
	"net/url"
	"strconv"
	"time"
)

// Config is everything the process reads from its environment.
type Config struct {
	DatabaseURL      Secret // "sqlite:PATH" or "postgres://..."; may hold a password
	DatabaseMaxConns int
	RedisURL         Secret // empty: jobs in the database (dbbus), notifications in-process
	HTTPAddr         string // host:port; port 0 picks a free port
	// PublicURL is the dashboard's address as browsers reach it, scheme and
	// host only ("https://dash.example.com"); empty: taken from each request.
	PublicURL string
	// SessionKey (64 hex characters) encrypts the Discord access tokens kept
	// in dashboard sessions; empty: derived from the Discord client secret.
	SessionKey Secret

	Discord Discord

	ShardIDs    []int // empty: every shard in 0..ShardCount-1
	ShardCount  int
	OperatorIDs []int64 // Discord users allowed to run operator commands

	DevMode         bool
	LogLevel        slog.Level
	LogFormat       string // "json" or "text"
	ShutdownGrace   time.Duration
	MetricsPerGuild bool // label metrics by guild; off by default to bound cardinality
	// TracesPerSecond caps the new traces a process records each second
	// when tracing is on (see internal/telemetry); 0: no cap.
	TracesPerSecond int

	Alerts Alerts
	// BackupMaxAge: the built-in BackupTooOld alert fires when the last
	// successful backup is older than this; 0 turns the check off.
	BackupMaxAge time.Duration
}

// Alerts configures the worker's built-in alerting, for deployments without
// Prometheus. No receiver set: no notifications (conditions are still logged).
type Alerts struct {
	DiscordWebhook Secret // a Discord channel webhook URL
	SlackWebhook   Secret // a Slack incoming-webhook URL
	PagerDutyKey   Secret // an Events API v2 routing key
	PagerDutyURL   string // the Events API endpoint
	Repeat         time.Duration
	MuteUntil      time.Time // no notifications before this instant (maintenance)
}

// Discord is how the process talks to Discord (or to the emulator).
type Discord struct {
	Token        Secret
	PublicKey    Secret // 64 hex characters: the application's Ed25519 key for HTTP interactions
	APIURL       string // empty: Discord's own
	GatewayURL   string // empty: Discord's own
	ClientID     string // a snowflake in decimal
	ClientSecret Secret
	GuildID      int64 // 0: commands registered globally
	// Sandbox starts the built-in Discord emulator when no token is set
	// (serve, bot), so a first run shows every command working.
	Sandbox bool
}

// Names of the variables, so messages and docs spell them the same way.
const (
	EnvDatabaseURL         = "SMARTERDEV_DATABASE_URL"
	EnvDatabaseMaxConns    = "SMARTERDEV_DATABASE_MAX_CONNS"
	EnvRedisURL            = "SMARTERDEV_REDIS_URL"
	EnvHTTPAddr            = "SMARTERDEV_HTTP_ADDR"
	EnvPublicURL           = "SMARTERDEV_PUBLIC_URL"
	EnvSessionKey          = "SMARTERDEV_SESSION_KEY"
	EnvDiscordToken        = "SMARTERDEV_DISCORD_TOKEN"
	EnvDiscordPublicKey    = "SMARTERDEV_DISCORD_PUBLIC_KEY"
	EnvDiscordAPIURL       = "SMARTERDEV_DISCORD_API_URL"
	EnvDiscordGatewayURL   = "SMARTERDEV_DISCORD_GATEWAY_URL"
	EnvDiscordClientID     = "SMARTERDEV_DISCORD_CLIENT_ID"
	EnvDiscordClientSecret = "SMARTERDEV_DISCORD_CLIENT_SECRET"
	EnvDiscordGuildID      = "SMARTERDEV_DISCORD_GUILD_ID"
	EnvDiscordSandbox      = "SMARTERDEV_DISCORD_SANDBOX"
	EnvShardIDs            = "SMARTERDEV_SHARD_IDS"
	EnvShardCount          = "SMARTERDEV_SHARD_COUNT"
	EnvOperatorIDs         = "SMARTERDEV_OPERATOR_IDS"
	EnvDevMode             = "SMARTERDEV_DEV_MODE"
	EnvLogLevel            = "SMARTERDEV_LOG_LEVEL"
	EnvLogFormat           = "SMARTERDEV_LOG_FORMAT"
	EnvShutdownGrace       = "SMARTERDEV_SHUTDOWN_GRACE"
	EnvMetricsPerGuild     = "SMARTERDEV_METRICS_PER_GUILD"
	EnvAlertDiscordWebhook = "SMARTERDEV_ALERT_DISCORD_WEBHOOK"
	EnvAlertSlackWebhook   = "SMARTERDEV_ALERT_SLACK_WEBHOOK"
	EnvAlertPagerDutyKey   = "SMARTERDEV_ALERT_PAGERDUTY_ROUTING_KEY"
	EnvAlertPagerDutyURL   = "SMARTERDEV_ALERT_PAGERDUTY_URL"
	EnvAlertRepeat         = "SMARTERDEV_ALERT_REPEAT"
	EnvAlertMuteUntil      = "SMARTERDEV_ALERT_MUTE_UNTIL"
	EnvBackupMaxAge        = "SMARTERDEV_BACKUP_MAX_AGE"
	EnvTracesPerSecond     = "SMARTERDEV_TRACES_PER_SECOND"
)

// Defaults.
const (
	DefaultDatabaseURL      = "sqlite:./data/smarterdev.db"
	DefaultHTTPAddr         = "127.0.0.1:8080"
	DefaultDatabaseMaxConns = 16
	DefaultShutdownGrace    = 15 * time.Second
	DefaultBackupMaxAge     = 26 * time.Hour // a daily backup, with two hours of slack
	// DefaultTracesPerSecond caps the new traces a process records each
	// second. A sampling ratio alone makes tracing's cost grow with the load:
	// 10 % of a burst of 30,000 requests a second is 3,000 traces a second to
	// record, batch and export on the cores serving the burst, more than most
	// trace backends take. At a community's usual load (tens of requests a
	// second) the cap is never reached and the ratio decides.
	DefaultTracesPerSecond = 100
)

// Load reads and validates the configuration. getenv is os.Getenv in
// production and a map lookup in tests; an empty value counts as unset, so
// `FOO=` in a compose file means the default.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	var c Config

	c.DatabaseURL = r.secret(EnvDatabaseURL, DefaultDatabaseURL, checkDatabaseURL)
	c.DatabaseMaxConns = r.intRange(EnvDatabaseMaxConns, DefaultDatabaseMaxConns, 1, 1000)
	c.RedisURL = r.secret(EnvRedisURL, "", checkRedisURL)
	c.HTTPAddr = r.hostPort(EnvHTTPAddr, DefaultHTTPAddr)
	c.PublicURL = r.publicURL(EnvPublicURL)
	c.SessionKey = r.secret(EnvSessionKey, "", checkSessionKey)

	c.Discord.Token = r.secret(EnvDiscordToken, "", checkToken)
	c.Discord.PublicKey = r.secret(EnvDiscordPublicKey, "", checkPublicKey)
	c.Discord.APIURL = r.url(EnvDiscordAPIURL, "https://discord.com/api/v10", "http", "https")
	c.Discord.GatewayURL = r.url(EnvDiscordGatewayURL, "wss://gateway.discord.gg", "ws", "wss")
	if id := r.snowflake(EnvDiscordClientID); id != 0 {
		c.Discord.ClientID = strconv.FormatInt(id, 10)
	}
	c.Discord.ClientSecret = r.secret(EnvDiscordClientSecret, "", checkToken)
	c.Discord.GuildID = r.snowflake(EnvDiscordGuildID)
	c.Discord.Sandbox = r.boolDefault(EnvDiscordSandbox, true)

	c.ShardCount = r.intRange(EnvShardCount, 1, 1, 1<<16)
	c.ShardIDs = r.shardIDs(EnvShardIDs, c.ShardCount)
	c.OperatorIDs = r.snowflakes(EnvOperatorIDs)

	c.DevMode = r.bool(EnvDevMode)
	c.LogLevel = r.logLevel(EnvLogLevel)
	defaultFormat := "json"
	if c.DevMode {
		defaultFormat = "text"
	}
	c.LogFormat = r.oneOf(EnvLogFormat, defaultFormat, "json", "text")
	c.ShutdownGrace = r.durationRange(EnvShutdownGrace, DefaultShutdownGrace, time.Second, 10*time.Minute)
	c.MetricsPerGuild = r.bool(EnvMetricsPerGuild)
	c.TracesPerSecond = r.intRange(EnvTracesPerSecond, DefaultTracesPerSecond, 0, 1_000_000)

	c.Alerts.DiscordWebhook = r.secret(EnvAlertDiscordWebhook, "", checkWebhookURL)
	c.Alerts.SlackWebhook = r.secret(EnvAlertSlackWebhook, "", checkWebhookURL)
	c.Alerts.PagerDutyKey = r.secret(EnvAlertPagerDutyKey, "", checkToken)
	c.Alerts.PagerDutyURL = r.url(EnvAlertPagerDutyURL, "https://events.pagerduty.com/v2/enqueue", "http", "https")
	c.Alerts.Repeat = r.durationRange(EnvAlertRepeat, 4*time.Hour, time.Minute, 7*24*time.Hour)
	c.Alerts.MuteUntil = r.timestamp(EnvAlertMuteUntil)
	c.BackupMaxAge = r.durationOrOff(EnvBackupMaxAge, DefaultBackupMaxAge, time.Hour, 90*24*time.Hour)

	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// Secrets lists the secret values that are set, so that error sanitisers
// (health reports, logs) can scrub them.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range []Secret{c.DatabaseURL, c.RedisURL, c.SessionKey, c.Discord.Token, c.Discord.PublicKey, c.Discord.ClientSecret,
		c.Alerts.DiscordWebhook, c.Alerts.SlackWebhook, c.Alerts.PagerDutyKey} {
		if s == "" {
			continue
		}
		out = append(out, s.Value())
		// A password can surface on its own, e.g. in a driver's error.
		if u, err := url.Parse(s.Value()); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				out = append(out, pw)
			}
		}
	}
	return out
}
