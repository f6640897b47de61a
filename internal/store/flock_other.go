//go:build !unix

package store

// lockFile is a no-op where flock is not available.
func lockFile(string) (func(), error) { return func() {}, nil }

// lockFileNB is a no-op where flock is not available: restore cannot tell
// whether a server has the database open.
func lockFileNB(string, bool) (func(), error) { return func() {}, nil }
