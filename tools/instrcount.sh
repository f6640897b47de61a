#!/usr/bin/env bash
# Instructions per request of the HTTP instrumentation, counted by
# callgrind: the same count for the same binary whatever else the machine
# does, unlike the wrk runs (docs/PERFORMANCE.md, issue 6, tenth and
# eleventh passes). Each mode of BenchmarkInstrumentationMiddleware runs
# with 2,000 and 12,000 requests; the difference over 10,000 is the
# per-request count, set-up cancelled. Needs valgrind (Debian: valgrind).
# Beside the instructions it counts the instruction cache's misses per
# request, in callgrind's simulation of a 32 KB, 8-way I1 (this machine's,
# fixed so that the count does not depend on the machine). The bare handler's code fits in it; what the
# instrumentation adds does not, and in a server, whose own code per
# request is far larger, its code is fetched afresh on every request.
# These misses, more than the instructions, are what the instrumentation
# costs in time (docs/PERFORMANCE.md, issue 6, twelfth pass).
# Modes may be given as arguments (default: bare logs-metrics traced-unsampled).
set -euo pipefail
command -v valgrind >/dev/null || { echo "instrcount: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(bare logs-metrics traced-unsampled)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" ./tools/benchapi
# valgrind 3.19 handles neither Go's preemption signals nor RDTSCP; GOGC as the server roles set it.
count() { # mode requests -> instructions and I1 misses of the whole run
	GOGC=400 GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind --cache-sim=yes --I1=32768,8,64 --callgrind-out-file="$dir/cg.$1.$2" \
		"$dir/bench.test" -test.run XXX -test.bench "InstrumentationMiddleware\$/$1\$" -test.benchtime "${2}x" -test.cpu 1 \
		>"$dir/log.$1.$2" 2>&1 || { cat "$dir/log.$1.$2" >&2; exit 1; }
	grep -q "^BenchmarkInstrumentationMiddleware/$1 " "$dir/log.$1.$2" || { echo "instrcount: no benchmark mode $1 (modes: bare logs-metrics traced-unsampled traced-default traced-10pct traced-all)" >&2; exit 1; }
	# "Collected : Ir Dr Dw I1mr ...": the instructions and the I1 misses
	sed -n 's/.*Collected : \([0-9]*\) [0-9]* [0-9]* \([0-9]*\).*/\1 \2/p' "$dir/log.$1.$2"
}
printf '%-20s %26s %26s\n' mode 'instructions per request' 'I1 misses per request'
for m in "${modes[@]}"; do
	read -r si sm <<<"$(count "$m" 2000)" || exit 1
	read -r bi bm <<<"$(count "$m" 12000)" || exit 1
	[ -n "$si" ] && [ -n "$sm" ] && [ -n "$bi" ] && [ -n "$bm" ] || { echo "instrcount: valgrind reported no count for $m" >&2; exit 1; }
	printf '%-20s %26d %26d\n' "$m" $(((bi - si) / 10000)) $(((bm - sm) / 10000))
done
