package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL.Value() != DefaultDatabaseURL || c.HTTPAddr != DefaultHTTPAddr ||
		c.DatabaseMaxConns != 16 || c.ShutdownGrace != 15*time.Second || c.LogLevel != slog.LevelInfo ||
		c.LogFormat != "json" || c.ShardCount != 1 || c.RedisURL.IsSet() || c.DevMode {
		t.Fatalf("defaults: %v", c)
	}
	c, err = Load(getenv(map[string]string{EnvDevMode: "true"}))
	if err != nil || c.LogFormat != "text" {
		t.Fatalf("dev mode wants text logs: %v %v", c.LogFormat, err)
	}
}

const (
	goodKey = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	pgURL   = "postgres://bob:hunter2secret@db.internal:5432/smarter?sslmode=require"
)

func TestVariables(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool // for good values
		wantErr string            // substring of the one-line error; "" means valid
	}{
		// SMARTERDEV_DATABASE_URL
		{name: "db sqlite", env: map[string]string{EnvDatabaseURL: "sqlite:/var/lib/sd/x.db"}, check: func(c Config) bool { return c.DatabaseURL.Value() == "sqlite:/var/lib/sd/x.db" }},
		{name: "db postgres", env: map[string]string{EnvDatabaseURL: pgURL}, check: func(c Config) bool { return c.DatabaseURL.Value() == pgURL }},
		{name: "db postgresql", env: map[string]string{EnvDatabaseURL: "postgresql://h/db"}},
		{name: "db empty sqlite path", env: map[string]string{EnvDatabaseURL: "sqlite:"}, wantErr: "SMARTERDEV_DATABASE_URL: the sqlite URL has no file path"},
		{name: "db mysql", env: map[string]string{EnvDatabaseURL: "mysql://u:hunter2secret@h/db"}, wantErr: `SMARTERDEV_DATABASE_URL: scheme "mysql" is not supported: want sqlite:PATH`},
		{name: "db garbage", env: map[string]string{EnvDatabaseURL: "hunter2secret"}, wantErr: "SMARTERDEV_DATABASE_URL: not a database URL"},
		{name: "db bad postgres", env: map[string]string{EnvDatabaseURL: "postgres://u:hunter2secret%zz@h/db"}, wantErr: "SMARTERDEV_DATABASE_URL: not a valid URL"},
		// SMARTERDEV_DATABASE_MAX_CONNS
		{name: "max conns", env: map[string]string{EnvDatabaseMaxConns: "50"}, check: func(c Config) bool { return c.DatabaseMaxConns == 50 }},
		{name: "max conns zero", env: map[string]string{EnvDatabaseMaxConns: "0"}, wantErr: `SMARTERDEV_DATABASE_MAX_CONNS="0": want a whole number from 1 to 1000, e.g. 16`},
		{name: "max conns big", env: map[string]string{EnvDatabaseMaxConns: "1001"}, wantErr: `SMARTERDEV_DATABASE_MAX_CONNS="1001"`},
		{name: "max conns word", env: map[string]string{EnvDatabaseMaxConns: "many"}, wantErr: `SMARTERDEV_DATABASE_MAX_CONNS="many"`},
		// SMARTERDEV_REDIS_URL
		{name: "redis", env: map[string]string{EnvRedisURL: "redis://:hunter2secret@cache:6379/1"}, check: func(c Config) bool { return c.RedisURL.IsSet() }},
		{name: "rediss", env: map[string]string{EnvRedisURL: "rediss://cache:6380"}},
		{name: "redis http", env: map[string]string{EnvRedisURL: "http://u:hunter2secret@cache"}, wantErr: `SMARTERDEV_REDIS_URL: scheme "http" is not supported: want redis://`},
		{name: "redis bad db", env: map[string]string{EnvRedisURL: "redis://:hunter2secret@cache:6379/x"}, wantErr: "SMARTERDEV_REDIS_URL: not a valid Redis URL"},
		// SMARTERDEV_HTTP_ADDR
		{name: "addr", env: map[string]string{EnvHTTPAddr: "0.0.0.0:9000"}, check: func(c Config) bool { return c.HTTPAddr == "0.0.0.0:9000" }},
		{name: "addr all interfaces", env: map[string]string{EnvHTTPAddr: ":8080"}},
		{name: "addr port 0", env: map[string]string{EnvHTTPAddr: "127.0.0.1:0"}},
		{name: "addr ipv6", env: map[string]string{EnvHTTPAddr: "[::1]:8080"}},
		{name: "addr nonsense", env: map[string]string{EnvHTTPAddr: "nonsense"}, wantErr: `SMARTERDEV_HTTP_ADDR="nonsense": want host:port, e.g. 127.0.0.1:8080`},
		{name: "addr port range", env: map[string]string{EnvHTTPAddr: "localhost:70000"}, wantErr: `SMARTERDEV_HTTP_ADDR="localhost:70000": the port must be a number from 0 to 65535`},
		{name: "addr port name", env: map[string]string{EnvHTTPAddr: "localhost:http"}, wantErr: `SMARTERDEV_HTTP_ADDR="localhost:http": the port must be a number`},
		// SMARTERDEV_PUBLIC_URL
		{name: "public url", env: map[string]string{EnvPublicURL: "https://dash.example.com"}, check: func(c Config) bool { return c.PublicURL == "https://dash.example.com" }},
		{name: "public url slash port", env: map[string]string{EnvPublicURL: "HTTP://127.0.0.1:8080/"}, check: func(c Config) bool { return c.PublicURL == "http://127.0.0.1:8080" }},
		{name: "public url unset", env: map[string]string{}, check: func(c Config) bool { return c.PublicURL == "" }},
		{name: "public url host only", env: map[string]string{EnvPublicURL: "dash.example.com"}, wantErr: `SMARTERDEV_PUBLIC_URL="dash.example.com": want the dashboard's address as browsers see it, scheme and host only, e.g. https://dash.example.com`},
		{name: "public url ftp", env: map[string]string{EnvPublicURL: "ftp://dash.example.com"}, wantErr: `SMARTERDEV_PUBLIC_URL="ftp://dash.example.com": scheme "ftp" is not supported`},
		{name: "public url path", env: map[string]string{EnvPublicURL: "https://example.com/dash"}, wantErr: `SMARTERDEV_PUBLIC_URL="https://example.com/dash": the dashboard is served at the root of its host`},
		{name: "public url query", env: map[string]string{EnvPublicURL: "https://example.com?x=1"}, wantErr: `SMARTERDEV_PUBLIC_URL="https://example.com?x=1": the dashboard is served at the root`},
		{name: "public url userinfo", env: map[string]string{EnvPublicURL: "https://u:hunter2secret@example.com"}, wantErr: "SMARTERDEV_PUBLIC_URL: must not contain a user or password"},
		// SMARTERDEV_SESSION_KEY
		{name: "session key", env: map[string]string{EnvSessionKey: goodKey}, check: func(c Config) bool { return c.SessionKey.Value() == goodKey }},
		{name: "session key short", env: map[string]string{EnvSessionKey: "abcd"}, wantErr: "SMARTERDEV_SESSION_KEY: has 4 characters: want 64 hex characters (32 random bytes), e.g. the output of `openssl rand -hex 32`"},
		{name: "session key not hex", env: map[string]string{EnvSessionKey: strings.Repeat("zz", 32)}, wantErr: "SMARTERDEV_SESSION_KEY: is not hexadecimal"},
		// SMARTERDEV_DISCORD_TOKEN
		{name: "token", env: map[string]string{EnvDiscordToken: "MTIz.abc.def"}, check: func(c Config) bool { return c.Discord.Token.Value() == "MTIz.abc.def" }},
		{name: "token whitespace", env: map[string]string{EnvDiscordToken: "MTIz hunter2secret"}, wantErr: "SMARTERDEV_DISCORD_TOKEN: contains whitespace"},
		// SMARTERDEV_DISCORD_PUBLIC_KEY
		{name: "public key", env: map[string]string{EnvDiscordPublicKey: goodKey}, check: func(c Config) bool { return c.Discord.PublicKey.Value() == goodKey }},
		{name: "public key short", env: map[string]string{EnvDiscordPublicKey: "abcd"}, wantErr: "SMARTERDEV_DISCORD_PUBLIC_KEY: has 4 characters: want the 64 hex characters"},
		{name: "public key not hex", env: map[string]string{EnvDiscordPublicKey: strings.Repeat("zz", 32)}, wantErr: "SMARTERDEV_DISCORD_PUBLIC_KEY: is not hexadecimal"},
		// SMARTERDEV_DISCORD_API_URL, SMARTERDEV_DISCORD_GATEWAY_URL
		{name: "api url", env: map[string]string{EnvDiscordAPIURL: "http://127.0.0.1:9999/api/v10"}, check: func(c Config) bool { return c.Discord.APIURL == "http://127.0.0.1:9999/api/v10" }},
		{name: "api url relative", env: map[string]string{EnvDiscordAPIURL: "/api/v10"}, wantErr: `SMARTERDEV_DISCORD_API_URL="/api/v10": want an absolute http:// or https:// URL`},
		{name: "api url ws", env: map[string]string{EnvDiscordAPIURL: "ws://x/api"}, wantErr: `SMARTERDEV_DISCORD_API_URL="ws://x/api"`},
		{name: "api url userinfo", env: map[string]string{EnvDiscordAPIURL: "https://u:hunter2secret@x/api"}, wantErr: "SMARTERDEV_DISCORD_API_URL: must not contain a user or password"},
		{name: "gateway url", env: map[string]string{EnvDiscordGatewayURL: "ws://127.0.0.1:9999/gateway"}, check: func(c Config) bool { return c.Discord.GatewayURL == "ws://127.0.0.1:9999/gateway" }},
		{name: "gateway url wss", env: map[string]string{EnvDiscordGatewayURL: "wss://gateway.discord.gg"}},
		{name: "gateway url http", env: map[string]string{EnvDiscordGatewayURL: "https://gateway.discord.gg"}, wantErr: `SMARTERDEV_DISCORD_GATEWAY_URL="https://gateway.discord.gg": want an absolute ws:// or wss:// URL`},
		// SMARTERDEV_DISCORD_CLIENT_ID, _CLIENT_SECRET, _GUILD_ID
		{name: "client id", env: map[string]string{EnvDiscordClientID: "175928847299117063"}, check: func(c Config) bool { return c.Discord.ClientID == "175928847299117063" }},
		{name: "client id bad", env: map[string]string{EnvDiscordClientID: "my-app"}, wantErr: `SMARTERDEV_DISCORD_CLIENT_ID="my-app": want a Discord snowflake`},
		{name: "client secret", env: map[string]string{EnvDiscordClientSecret: "s3cr3t"}, check: func(c Config) bool { return c.Discord.ClientSecret.Value() == "s3cr3t" }},
		{name: "client secret whitespace", env: map[string]string{EnvDiscordClientSecret: "hunter2secret x"}, wantErr: "SMARTERDEV_DISCORD_CLIENT_SECRET: contains whitespace"},
		{name: "guild id", env: map[string]string{EnvDiscordGuildID: "80351110224678912"}, check: func(c Config) bool { return c.Discord.GuildID == 80351110224678912 }},
		{name: "guild id negative", env: map[string]string{EnvDiscordGuildID: "-5"}, wantErr: `SMARTERDEV_DISCORD_GUILD_ID="-5": want a Discord snowflake`},
		{name: "guild id overflow", env: map[string]string{EnvDiscordGuildID: "99999999999999999999"}, wantErr: `SMARTERDEV_DISCORD_GUILD_ID="99999999999999999999"`},
		// SMARTERDEV_SHARD_IDS, SMARTERDEV_SHARD_COUNT
		{name: "shards", env: map[string]string{EnvShardIDs: "0, 2", EnvShardCount: "4"}, check: func(c Config) bool { return reflect.DeepEqual(c.ShardIDs, []int{0, 2}) && c.ShardCount == 4 }},
		{name: "shard count alone", env: map[string]string{EnvShardCount: "3"}, check: func(c Config) bool { return c.ShardIDs == nil && c.ShardCount == 3 }},
		{name: "shard count zero", env: map[string]string{EnvShardCount: "0"}, wantErr: `SMARTERDEV_SHARD_COUNT="0": want a whole number from 1 to 65536`},
		{name: "shard id too big", env: map[string]string{EnvShardIDs: "0,4", EnvShardCount: "4"}, wantErr: `SMARTERDEV_SHARD_IDS="0,4": shard 4 does not exist: want comma-separated shard numbers from 0 to 3`},
		{name: "shard ids without count", env: map[string]string{EnvShardIDs: "1"}, wantErr: `SMARTERDEV_SHARD_IDS="1": shard 1 does not exist`},
		{name: "shard id word", env: map[string]string{EnvShardIDs: "0,x", EnvShardCount: "2"}, wantErr: `SMARTERDEV_SHARD_IDS="0,x": "x" is not a shard number`},
		{name: "shard id twice", env: map[string]string{EnvShardIDs: "1,1", EnvShardCount: "2"}, wantErr: `SMARTERDEV_SHARD_IDS="1,1": shard 1 is listed twice`},
		// SMARTERDEV_OPERATOR_IDS
		{name: "operators", env: map[string]string{EnvOperatorIDs: "175928847299117063,80351110224678912"}, check: func(c Config) bool {
			return reflect.DeepEqual(c.OperatorIDs, []int64{175928847299117063, 80351110224678912})
		}},
		{name: "operators bad", env: map[string]string{EnvOperatorIDs: "1,bob"}, wantErr: `SMARTERDEV_OPERATOR_IDS="1,bob": "bob" is not a snowflake`},
		{name: "operators empty item", env: map[string]string{EnvOperatorIDs: "1,,2"}, wantErr: `SMARTERDEV_OPERATOR_IDS="1,,2": "" is not a snowflake`},
		// SMARTERDEV_DEV_MODE, SMARTERDEV_METRICS_PER_GUILD
		{name: "dev mode", env: map[string]string{EnvDevMode: "1"}, check: func(c Config) bool { return c.DevMode }},
		{name: "dev mode bad", env: map[string]string{EnvDevMode: "yes please"}, wantErr: `SMARTERDEV_DEV_MODE="yes please": want true or false`},
		{name: "metrics per guild", env: map[string]string{EnvMetricsPerGuild: "true"}, check: func(c Config) bool { return c.MetricsPerGuild }},
		{name: "metrics per guild bad", env: map[string]string{EnvMetricsPerGuild: "maybe"}, wantErr: `SMARTERDEV_METRICS_PER_GUILD="maybe": want true or false`},
		{name: "traces per second default", env: map[string]string{}, check: func(c Config) bool { return c.TracesPerSecond == 100 }},
		{name: "traces per second", env: map[string]string{EnvTracesPerSecond: "20"}, check: func(c Config) bool { return c.TracesPerSecond == 20 }},
		{name: "traces per second no cap", env: map[string]string{EnvTracesPerSecond: "0"}, check: func(c Config) bool { return c.TracesPerSecond == 0 }},
		{name: "traces per second bad", env: map[string]string{EnvTracesPerSecond: "lots"}, wantErr: `SMARTERDEV_TRACES_PER_SECOND="lots": want a whole number from 0 to 1000000, e.g. 100`},
		{name: "traces per second negative", env: map[string]string{EnvTracesPerSecond: "-1"}, wantErr: `SMARTERDEV_TRACES_PER_SECOND="-1"`},
		// SMARTERDEV_LOG_LEVEL, SMARTERDEV_LOG_FORMAT
		{name: "log level", env: map[string]string{EnvLogLevel: "DEBUG"}, check: func(c Config) bool { return c.LogLevel == slog.LevelDebug }},
		{name: "log level warn", env: map[string]string{EnvLogLevel: "warn"}, check: func(c Config) bool { return c.LogLevel == slog.LevelWarn }},
		{name: "log level bad", env: map[string]string{EnvLogLevel: "loud"}, wantErr: `SMARTERDEV_LOG_LEVEL="loud": want one of debug, info, warn, error`},
		{name: "log format", env: map[string]string{EnvLogFormat: "text"}, check: func(c Config) bool { return c.LogFormat == "text" }},
		{name: "log format json in dev", env: map[string]string{EnvLogFormat: "json", EnvDevMode: "true"}, check: func(c Config) bool { return c.LogFormat == "json" }},
		{name: "log format bad", env: map[string]string{EnvLogFormat: "xml"}, wantErr: `SMARTERDEV_LOG_FORMAT="xml": want one of json, text`},
		// SMARTERDEV_SHUTDOWN_GRACE
		{name: "grace", env: map[string]string{EnvShutdownGrace: "30s"}, check: func(c Config) bool { return c.ShutdownGrace == 30*time.Second }},
		{name: "grace no unit", env: map[string]string{EnvShutdownGrace: "30"}, wantErr: `SMARTERDEV_SHUTDOWN_GRACE="30": want a duration from 1s to 10m, e.g. 15s`},
		{name: "grace too long", env: map[string]string{EnvShutdownGrace: "1h"}, wantErr: `SMARTERDEV_SHUTDOWN_GRACE="1h"`},
		{name: "grace too short", env: map[string]string{EnvShutdownGrace: "10ms"}, wantErr: `SMARTERDEV_SHUTDOWN_GRACE="10ms"`},
		// SMARTERDEV_BACKUP_MAX_AGE
		{name: "backup max age default", env: map[string]string{}, check: func(c Config) bool { return c.BackupMaxAge == 26*time.Hour }},
		{name: "backup max age", env: map[string]string{EnvBackupMaxAge: "50h"}, check: func(c Config) bool { return c.BackupMaxAge == 50*time.Hour }},
		{name: "backup max age off", env: map[string]string{EnvBackupMaxAge: "0"}, check: func(c Config) bool { return c.BackupMaxAge == 0 }},
		{name: "backup max age off 0s", env: map[string]string{EnvBackupMaxAge: "0s"}, check: func(c Config) bool { return c.BackupMaxAge == 0 }},
		{name: "backup max age no unit", env: map[string]string{EnvBackupMaxAge: "26"}, wantErr: `SMARTERDEV_BACKUP_MAX_AGE="26": want 0 (off) or a duration from 1h to 2160h, e.g. 26h`},
		{name: "backup max age days", env: map[string]string{EnvBackupMaxAge: "1d"}, wantErr: `SMARTERDEV_BACKUP_MAX_AGE="1d": want 0 (off)`},
		{name: "backup max age too short", env: map[string]string{EnvBackupMaxAge: "10m"}, wantErr: `SMARTERDEV_BACKUP_MAX_AGE="10m"`},
		{name: "backup max age negative", env: map[string]string{EnvBackupMaxAge: "-26h"}, wantErr: `SMARTERDEV_BACKUP_MAX_AGE="-26h"`},
		// an empty value is unset
		{name: "empty is default", env: map[string]string{EnvHTTPAddr: "", EnvDatabaseMaxConns: " "}, check: func(c Config) bool { return c.HTTPAddr == DefaultHTTPAddr && c.DatabaseMaxConns == 16 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(getenv(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil && !tt.check(c) {
					t.Fatalf("wrong value: %v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q, got none", tt.wantErr)
			}
			checkErrorLine(t, err, tt.wantErr)
		})
	}
}

// checkErrorLine asserts the message rules: one line, the expected text, no secret.
func checkErrorLine(t *testing.T, err error, want string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, secret := range []string{"hunter2secret", goodKey} {
		if strings.Contains(msg, secret) {
			t.Errorf("error leaks a secret: %q", msg)
		}
	}
	if !strings.HasPrefix(msg, "SMARTERDEV_") {
		t.Errorf("error does not start with the variable name: %q", msg)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretFiles(t *testing.T) {
	secrets := map[string]func(Config) Secret{
		EnvDatabaseURL:         func(c Config) Secret { return c.DatabaseURL },
		EnvRedisURL:            func(c Config) Secret { return c.RedisURL },
		EnvDiscordToken:        func(c Config) Secret { return c.Discord.Token },
		EnvDiscordClientSecret: func(c Config) Secret { return c.Discord.ClientSecret },
		EnvDiscordPublicKey:    func(c Config) Secret { return c.Discord.PublicKey },
		EnvSessionKey:          func(c Config) Secret { return c.SessionKey },
	}
	good := map[string]string{
		EnvDatabaseURL:         pgURL,
		EnvRedisURL:            "redis://:hunter2secret@cache:6379/0",
		EnvDiscordToken:        "MTIz.hunter2secret.x",
		EnvDiscordClientSecret: "hunter2secret",
		EnvDiscordPublicKey:    goodKey,
		EnvSessionKey:          goodKey,
	}
	for name, field := range secrets {
		t.Run(name, func(t *testing.T) {
			for _, ending := range []string{"", "\n", "\r\n"} {
				c, err := Load(getenv(map[string]string{name + "_FILE": writeFile(t, good[name]+ending)}))
				if err != nil {
					t.Fatalf("%q ending: %v", ending, err)
				}
				if got := field(c).Value(); got != good[name] {
					t.Fatalf("%q ending: read %q", ending, got)
				}
			}

			_, err := Load(getenv(map[string]string{name: good[name], name + "_FILE": writeFile(t, good[name])}))
			if err == nil {
				t.Fatal("both set: want an error")
			}
			checkErrorLine(t, err, name+" and "+name+"_FILE are both set: want only one of them")

			_, err = Load(getenv(map[string]string{name + "_FILE": "/nonexistent/secret"}))
			if err == nil {
				t.Fatal("missing file: want an error")
			}
			checkErrorLine(t, err, name+`_FILE="/nonexistent/secret": cannot read the file (no such file or directory)`)

			_, err = Load(getenv(map[string]string{name + "_FILE": writeFile(t, "\n")}))
			if err == nil {
				t.Fatal("empty file: want an error")
			}
			checkErrorLine(t, err, name+"_FILE=")
		})
	}

	// A bad value from a file says where it came from and does not repeat it.
	_, err := Load(getenv(map[string]string{EnvDatabaseURL + "_FILE": writeFile(t, "mysql://u:hunter2secret@h/db\n")}))
	if err == nil {
		t.Fatal("want an error")
	}
	checkErrorLine(t, err, "SMARTERDEV_DATABASE_URL (read from SMARTERDEV_DATABASE_URL_FILE): scheme \"mysql\" is not supported")
}

func TestNoSecretInOutput(t *testing.T) {
	c, err := Load(getenv(map[string]string{
		EnvDatabaseURL:         pgURL,
		EnvRedisURL:            "redis://user:hunter2secret@cache:6379/0",
		EnvDiscordToken:        "MTIz.hunter2secret.x",
		EnvDiscordClientSecret: "hunter2secret",
		EnvDiscordPublicKey:    goodKey,
		EnvSessionKey:          strings.ToUpper(goodKey),
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c, "token", c.Discord.Token)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", c)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"String": c.String(), "slog": logged.String(), "json": string(js),
		"discord %+v": fmt.Sprintf("%+v", c.Discord), "discord %#v": fmt.Sprintf("%#v", c.Discord),
		"token %q": fmt.Sprintf("%q", c.Discord.Token), "token %x": fmt.Sprintf("%x", c.Discord.Token),
	}
	for name, out := range outputs {
		for _, secret := range []string{"hunter2secret", goodKey, strings.ToUpper(goodKey)} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks a secret: %s", name, out)
			}
		}
	}
	if !strings.Contains(c.String(), "database=postgres://bob:xxxxx@db.internal:5432/smarter") {
		t.Errorf("String should show where the database is: %s", c)
	}
	if !strings.Contains(c.String(), "redis=redis://user:xxxxx@cache:6379/0") {
		t.Errorf("String should show where Redis is: %s", c)
	}
}

func TestSecrets(t *testing.T) {
	c, err := Load(getenv(map[string]string{EnvDatabaseURL: pgURL, EnvDiscordToken: "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Secrets()
	want := []string{pgURL, "hunter2secret", "tok"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Secrets() = %q, want %q", got, want)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"sqlite:./data/x.db?_pragma=foo":       "sqlite:./data/x.db",
		"postgres://u:p@h:5432/db?password=p2": "postgres://u:xxxxx@h:5432/db",
		"postgres://u@h/db":                    "postgres://u@h/db",
		"redis://:p@h:6379/2":                  "redis://:xxxxx@h:6379/2",
		"::not a url":                          "[redacted]",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
