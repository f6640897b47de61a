//go:build !unix

package bot

import "time"

// processCPU is not measured here (cputime_unix_test.go).
func processCPU() (time.Duration, bool) { return 0, false }
