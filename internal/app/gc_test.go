package app

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })
	quiet := slog.New(slog.DiscardHandler)
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	TuneGC(env(map[string]string{"GOGC": "100"}), quiet)
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GOGC set by the operator, yet the percent became %d", p)
	}

	mem := memoryAvailable()
	if mem <= 0 {
		t.Fatal("cannot read the machine's memory (/proc/meminfo)")
	}
	debug.SetMemoryLimit(1 << 62)
	TuneGC(env(nil), quiet)
	if p := debug.SetGCPercent(100); p != serverGCPercent {
		t.Fatalf("percent %d, want %d", p, serverGCPercent)
	}
	if l := debug.SetMemoryLimit(-1); l != mem/2 {
		t.Fatalf("memory limit %d, want half of %d", l, mem)
	}

	debug.SetMemoryLimit(123 << 20)
	TuneGC(env(map[string]string{"GOMEMLIMIT": "123MiB"}), quiet)
	if l := debug.SetMemoryLimit(-1); l != 123<<20 {
		t.Fatalf("GOMEMLIMIT set by the operator, yet the limit became %d", l)
	}
}
