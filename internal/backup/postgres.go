package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
)

// ToolMissingError says a PostgreSQL client program is not installed.
type ToolMissingError struct{ Tool string }

func (e *ToolMissingError) Error() string {
	return fmt.Sprintf("%s is not on PATH: install the PostgreSQL client programs of the server's major version or newer (Debian: apt-get install postgresql-client)", e.Tool)
}

func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &ToolMissingError{Tool: name}
	}
	return p, nil
}

// libpqParams are the URL query parameters libpq (pg_dump, pg_restore)
// understands; the others in SMARTERDEV_DATABASE_URL are pgx's own (pool_*)
// or session settings, which libpq would refuse.
var libpqParams = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "passfile": true,
	"channel_binding": true, "connect_timeout": true, "client_encoding": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "sslmode": true, "sslcompression": true, "sslcert": true, "sslkey": true,
	"sslpassword": true, "sslrootcert": true, "sslcrl": true, "sslcrldir": true, "sslsni": true,
	"requirepeer": true, "ssl_min_protocol_version": true, "ssl_max_protocol_version": true,
	"gssencmode": true, "krbsrvname": true, "gsslib": true, "service": true, "target_session_attrs": true,
}

// pgTarget is how the client programs reach the configured database: a URL
// without the password (which goes in PGPASSWORD, out of the process list)
// and the schema the product lives in when the URL sets search_path (the
// backup then covers that schema only; otherwise the whole database).
type pgTarget struct {
	url      string
	password string
	schema   string
}

func parsePGURL(raw string) (pgTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return pgTarget{}, errors.New("the database URL is not a valid URL")
	}
	var t pgTarget
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			t.password = pw
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	if sp := q.Get("search_path"); sp != "" {
		first, _, _ := strings.Cut(sp, ",")
		t.schema = strings.Trim(strings.TrimSpace(first), `"`)
	}
	if pw := q.Get("password"); pw != "" && t.password == "" {
		t.password = pw
	}
	out := url.Values{}
	for k, vs := range q {
		if libpqParams[k] {
			out[k] = vs
		}
	}
	u.RawQuery = out.Encode()
	t.url = u.String()
	return t, nil
}

// env is the client program's environment: ours, plus the password.
func (t pgTarget) env() []string {
	env := os.Environ()
	if t.password != "" {
		env = append(env, "PGPASSWORD="+t.password)
	}
	return env
}

// run runs a PostgreSQL client program; a failure carries its last lines of
// stderr, which name the cause (connection refused, version mismatch).
func runTool(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	path, err := lookTool(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if lines := strings.Split(msg, "\n"); len(lines) > 3 {
			msg = strings.Join(lines[len(lines)-3:], "\n")
		}
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), fmt.Errorf("%s failed: %s", name, msg)
	}
	return stdout.Bytes(), nil
}

// dumpPostgres writes a custom-format dump of the configured database (or of
// its schema, see pgTarget) to out.
func dumpPostgres(ctx context.Context, dbURL, out string) error {
	t, err := parsePGURL(dbURL)
	if err != nil {
		return err
	}
	args := []string{"--format=custom", "--no-password", "--file=" + out}
	if t.schema != "" {
		args = append(args, "--schema="+t.schema)
	}
	args = append(args, "--dbname="+t.url)
	_, err = runTool(ctx, t.env(), "pg_dump", args...)
	return err
}

// checkDump reads a dump's table of contents with pg_restore --list: a
// truncated or foreign file fails, and so does a dump without the product's
// migration table.
func checkDump(ctx context.Context, path string) error {
	out, err := runTool(ctx, os.Environ(), "pg_restore", "--list", path)
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte("goose_db_version")) {
		return errors.New("not a smarterdev dump (no migration table in its table of contents)")
	}
	return nil
}

// restorePostgres loads a dump into the configured database: objects of the
// dump are dropped first (--clean --if-exists), all in one transaction, so a
// failure leaves the database as it was. Ownership and grants are not
// restored: everything belongs to the configured user.
func restorePostgres(ctx context.Context, dbURL, path string) error {
	t, err := parsePGURL(dbURL)
	if err != nil {
		return err
	}
	_, err = runTool(ctx, t.env(), "pg_restore", "--clean", "--if-exists", "--single-transaction",
		"--no-owner", "--no-acl", "--no-password", "--dbname="+t.url, path)
	return err
}
