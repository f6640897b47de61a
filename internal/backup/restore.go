package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smarterdev/smarterdev/internal/store"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// SkipChecksum restores a file without FILE.sha256 beside it (a copy of
	// the database made otherwise, or a .before-restore file); the file is
	// still checked (integrity check, table of contents).
	SkipChecksum bool
}

// RestoreResult describes a restore.
type RestoreResult struct {
	SHA256   string // of the file restored
	Previous string // SQLite: where the replaced database was kept; "" when there was none
}

// ErrNoChecksum means FILE.sha256 is missing.
var ErrNoChecksum = errors.New("no checksum file")

// ChecksumError means the file is not the one that was backed up.
type ChecksumError struct{ File, Want, Got string }

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s does not match its checksum (sha256 %s, %s.sha256 says %s): the file is damaged or was changed; pick another backup", e.File, short(e.Got), e.File, short(e.Want))
}

// InUseError means a process has the SQLite database open.
type InUseError struct{ Path string }

func (e *InUseError) Error() string {
	return fmt.Sprintf("the database %s is in use by a running smarterdev process (serve, web, bot, worker, backup or migrate): stop it, then run restore again", e.Path)
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

// ReadChecksum reads the hex digest from FILE.sha256 (sha256sum's format).
func ReadChecksum(file string) (string, error) {
	b, err := os.ReadFile(file + ".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoChecksum
	}
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("%s.sha256 does not hold a SHA-256 digest", file)
	}
	return strings.ToLower(f[0]), nil
}

// VerifyChecksum hashes file and compares it with FILE.sha256.
func VerifyChecksum(file string) (string, error) {
	want, err := ReadChecksum(file)
	if err != nil {
		return "", err
	}
	got, _, err := hashFile(file)
	if err != nil {
		return "", err
	}
	if got != want {
		return got, &ChecksumError{File: file, Want: want, Got: got}
	}
	return got, nil
}

// Restore replaces the database at dbURL with the backup in file, after
// checking it. SQLite: refused while any process has the database open; the
// replaced database is kept as PATH.before-restore. PostgreSQL: pg_restore
// --clean --if-exists in one transaction; stop the servers first, or the
// restore waits for their locks.
func Restore(ctx context.Context, dbURL, file string, o RestoreOptions) (RestoreResult, error) {
	if _, err := os.Stat(file); err != nil {
		return RestoreResult{}, err
	}
	if strings.HasPrefix(dbURL, "sqlite:") {
		return restoreSQLite(ctx, store.SQLitePath(dbURL), file, o)
	}
	var res RestoreResult
	var err error
	if o.SkipChecksum {
		res.SHA256, _, err = hashFile(file)
	} else {
		res.SHA256, err = VerifyChecksum(file)
	}
	if err != nil {
		return res, err
	}
	if err := checkDump(ctx, file); err != nil {
		return res, fmt.Errorf("%s failed its check: %w", file, err)
	}
	return res, restorePostgres(ctx, dbURL, file)
}

func restoreSQLite(ctx context.Context, dbPath, file string, o RestoreOptions) (res RestoreResult, err error) {
	dbPath, err = filepath.Abs(dbPath)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o750); err != nil {
		return res, err
	}
	unlock, err := store.LockExclusive(dbPath)
	if errors.Is(err, store.ErrLocked) {
		return res, &InUseError{Path: dbPath}
	}
	if err != nil {
		return res, err
	}
	defer unlock()

	want := ""
	if !o.SkipChecksum {
		if want, err = ReadChecksum(file); err != nil {
			return res, err
		}
	}
	// Checked and installed is the same copy, made beside the database so
	// the final rename is atomic.
	tmp := dbPath + ".restore-partial"
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if res.SHA256, err = copyFileSynced(file, tmp); err != nil {
		return res, err
	}
	if want != "" && res.SHA256 != want {
		return res, &ChecksumError{File: file, Want: want, Got: res.SHA256}
	}
	if _, err := checkSQLite(ctx, tmp); err != nil {
		return res, fmt.Errorf("%s failed its check: %w", file, err)
	}

	prev := dbPath + ".before-restore"
	if _, err := os.Stat(dbPath); err == nil {
		// Fold the write-ahead log into the file, so .before-restore is
		// complete on its own; a log that stays is kept beside it.
		checkpoint(ctx, dbPath)
		for _, stale := range []string{prev + "-wal", prev + "-shm"} {
			if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, err
			}
		}
		if err := os.Rename(dbPath, prev); err != nil {
			return res, fmt.Errorf("keep the current database: %w", err)
		}
		res.Previous = prev
		if st, err := os.Stat(dbPath + "-wal"); err == nil && st.Size() > 0 {
			if err := os.Rename(dbPath+"-wal", prev+"-wal"); err != nil {
				_ = os.Rename(prev, dbPath)
				res.Previous = ""
				return res, err
			}
		}
	}
	// A log left beside the path would be replayed into the restored file.
	for _, stale := range []string{dbPath + "-wal", dbPath + "-shm"} {
		if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		if res.Previous != "" { // put the database back as it was
			_ = os.Rename(prev, dbPath)
			_ = os.Rename(prev+"-wal", dbPath+"-wal")
			res.Previous = ""
		}
		return res, fmt.Errorf("install the restored database: %w", err)
	}
	return res, syncDir(filepath.Dir(dbPath))
}

// checkpoint folds the WAL into the database file; best effort.
func checkpoint(ctx context.Context, dbPath string) {
	conn, err := sql.Open("sqlite", sqliteDSN(dbPath, "rw"))
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// copyFileSynced copies src to dst, synced, and returns the SHA-256 of what
// it wrote.
func copyFileSynced(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
