package app

import (
	"bufio"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// serverGCPercent is the garbage collector's target for server processes
// when the operator sets no GOGC. A server's live heap is small (tens of
// MB) and its garbage is per request, so Go's default (collect when the heap
// has doubled) collects many times a second under load, on cores the
// requests need: the API's p99 at half its maximum rate fell from 6.6 to
// 4.4 ms with 400 (docs/PERFORMANCE.md). The memory limit keeps the larger
// target from costing memory the machine lacks.
const serverGCPercent = 400

// TuneGC (run by every server role, and by tools/benchapi as production
// does) applies serverGCPercent unless GOGC is set, with a soft memory
// limit of half the machine's (or the cgroup's) memory unless GOMEMLIMIT is
// set; when neither is set and the memory cannot be read, it keeps Go's
// defaults.
func TuneGC(getenv func(string) string, log *slog.Logger) {
	if getenv("GOGC") != "" {
		return
	}
	limit := int64(-1)
	if getenv("GOMEMLIMIT") == "" {
		mem := memoryAvailable()
		if mem <= 0 {
			return
		}
		limit = mem / 2
		debug.SetMemoryLimit(limit)
	}
	debug.SetGCPercent(serverGCPercent)
	log.Debug("garbage collector tuned", "gogc", serverGCPercent, "memory_limit_bytes", debug.SetMemoryLimit(-1))
}

// memoryAvailable is the smaller of the machine's memory and the cgroup's
// limit, in bytes; 0 when neither can be read.
func memoryAvailable() int64 {
	total := int64(0)
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					total = kb * 1024
				}
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil { // cgroup v2; "max": none
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && v < math.MaxInt64 {
			if total == 0 || v < total {
				total = v
			}
		}
	}
	return total
}
