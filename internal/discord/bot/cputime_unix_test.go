//go:build unix

package bot

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) this process used so far;
// benchmarks report it per operation beside the wall time, which other
// processes on a shared machine inflate.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
