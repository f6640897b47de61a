package store

import (
	"errors"
	"fmt"
)

// ErrLocked is returned by the non-blocking locks when another process holds
// a conflicting lock.
var ErrLocked = errors.New("locked by another process")

// InUseLockPath is the lock file beside a SQLite database: every process that
// opens the database holds a shared lock on it for as long as it is open, and
// "smarterdev restore" takes it exclusively, so a restore never swaps the file
// under a running server and no server starts in the middle of a restore.
func InUseLockPath(dbPath string) string { return dbPath + ".lock" }

// LockExclusive takes the in-use lock of the SQLite database at dbPath
// exclusively, without waiting: ErrLocked means a process has the database
// open. Call unlock when done.
func LockExclusive(dbPath string) (unlock func(), err error) {
	return lockFileNB(InUseLockPath(dbPath), true)
}

// lockInUse takes the shared in-use lock for Open.
func lockInUse(dbPath string) (unlock func(), err error) {
	unlock, err = lockFileNB(InUseLockPath(dbPath), false)
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("the database %s is being restored (\"smarterdev restore\" holds %s): wait for it to finish, then start again", dbPath, InUseLockPath(dbPath))
	}
	return unlock, err
}
