#!/usr/bin/env bash
# Cost of one world-simulation tick at 10,000 characters over 500 places,
# on one core: BenchmarkTick10k in worldsim/world, COUNT runs, then the
# median ns per tick of each sub-benchmark.
#
#   bench/worldsim/run.sh [RESULTS_FILE]
#
# engine=instant answers every engine call at once (prompt building,
# retrieval and every reply's consequences are in the cost); engine=none
# leaves them unanswered (routines, observations, conversation starts).
# Environment: COUNT (5), BENCHTIME (1000x: ~17 sim hours after a warm-up hour).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$(mktemp /tmp/worldsim-bench.XXXXXX)}
count=${COUNT:-5}
benchtime=${BENCHTIME:-1000x}
pin=()
if command -v taskset >/dev/null; then
	pin=(taskset -c 0)
fi

cd "$root"
GOMAXPROCS=1 "${pin[@]}" go test -run '^$' -bench BenchmarkTick10k -benchtime "$benchtime" \
	-count "$count" ./worldsim/world | tee "$out"

# Median ns/op per sub-benchmark.
awk '/^BenchmarkTick10k/ { name = $1; sub(/-[0-9]+$/, "", name); v[name] = v[name] " " $3 }
END {
	for (n in v) {
		k = split(substr(v[n], 2), a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		med = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		printf "%-40s median %.2f ms/tick over %d runs\n", n, med / 1e6, k
	}
}' "$out"
echo "raw results: $out"
