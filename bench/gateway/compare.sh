#!/usr/bin/env bash
# Runs Maopao's gateway and Centrifugo side by side on the same scenarios,
# alternating which goes first, REPS times, each on a fresh server process,
# both fed by one NATS server that neither owns. Prints the medians table.
#
#   bench/gateway/compare.sh /path/to/centrifugo [results-dir]
#
# Build Centrifugo outside the repository, e.g.
#   GOBIN=/tmp/cfbin go install github.com/centrifugal/centrifugo/v6@latest
# Environment: REPS (3), DURATION (20s), SCENARIOS ("a b c"; "d" is a token
# stream: 200 connections receiving 50 events/s each).
# The script is read by bash as it runs: do not edit it during a run.
set -euo pipefail

cf=${1:?usage: compare.sh CENTRIFUGO_BINARY [RESULTS_DIR]}
[[ -x $cf ]] || { echo "compare.sh: $cf is not an executable" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$(mktemp -d /tmp/gateway-compare.XXXXXX)}
mkdir -p "$out"
reps=${REPS:-3}
duration=${DURATION:-20s}
scenarios=${SCENARIOS:-a b c}
nats_addr=127.0.0.1:14222
maopao_addr=127.0.0.1:18080
cf_port=18000
secret=bench-secret-$RANDOM$RANDOM$RANDOM
results=$out/results.jsonl
nats_pid=
server_pid=

# Only the processes this script started and has not stopped yet: a pid
# of a stopped one may already belong to someone else.
cleanup() {
	for p in $server_pid $nats_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

echo "compare.sh: results in $out" >&2
(cd "$root" && go build -o "$out/maopao" ./cmd/maopao && go build -o "$out/bench" ./bench/gateway)

wait_for() { # wait_for what command...: up to 20 s
	local what=$1
	shift
	for _ in $(seq 200); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "compare.sh: $what did not come up" >&2
	return 1
}

"$out/bench" nats -addr "$nats_addr" >"$out/nats.log" 2>&1 &
nats_pid=$!
wait_for "NATS" grep -q "nats ready" "$out/nats.log"

cat >"$out/centrifugo.json" <<EOF
{
  "http_server": {"address": "127.0.0.1", "port": $cf_port},
  "log": {"level": "error"},
  "prometheus": {"enabled": true},
  "client": {"token": {"hmac_secret_key": "$secret"}, "allowed_origins": ["*"]},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true}},
  "broker": {"enabled": true, "type": "nats", "nats": {"url": "nats://$nats_addr", "raw_mode": {"enabled": true}}}
}
EOF

start_server() { # start_server maopao|centrifugo run-id
	local log=$out/$2.server.log
	if [[ $1 == maopao ]]; then
		# --llm-url points at nothing: no engine is loaded, nothing is asked
		# of one (the load tool publishes reply events itself).
		"$out/maopao" serve --addr "$maopao_addr" --data "$out/data-$2" --nats "nats://$nats_addr" \
			--llm-url http://127.0.0.1:9 --max-conns-per-address 5000 >"$log" 2>&1 &
		server_pid=$!
		wait_for "maopao serve" grep -q "Maopao is running" "$log"
	else
		"$cf" --config "$out/centrifugo.json" >"$log" 2>&1 &
		server_pid=$!
		wait_for "centrifugo" curl -s -o /dev/null "http://127.0.0.1:$cf_port/connection/websocket"
	fi
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

scenario_flags() {
	case $1 in
	a) echo "-conns 2000 -rate 5000 -duration $duration" ;;
	b) echo "-conns 2000 -rooms 20 -rate 10000 -duration $duration" ;;
	c) echo "-conns 2000 -rate 0 -idle 5s" ;;
	d) echo "-conns 200 -rate 10000 -duration $duration" ;;
	*) echo "compare.sh: unknown scenario $1" >&2; return 1 ;;
	esac
}

scenario_name() {
	case $1 in
	a) echo "a: 2,000 conns, 2,000 conversations, 5k deliveries/s" ;;
	b) echo "b: 20 rooms x 100 conns, 10k deliveries/s" ;;
	c) echo "c: 2,000 idle conns" ;;
	d) echo "d: 200 conns streaming 50 events/s each, 10k deliveries/s" ;;
	esac
}

for rep in $(seq "$reps"); do
	for sc in $scenarios; do
		order="maopao centrifugo"
		if ((rep % 2 == 0)); then order="centrifugo maopao"; fi
		for sys in $order; do
			id=$sys-$sc-$rep
			start_server "$sys" "$id"
			echo "== $id $(uptime)" | tee -a "$out/uptime.log" >&2
			# shellcheck disable=SC2046
			args=(-pid "$server_pid" -nats "nats://$nats_addr" -scenario "$(scenario_name "$sc")" $(scenario_flags "$sc"))
			if [[ $sys == maopao ]]; then
				"$out/bench" maopao -url "http://$maopao_addr" -metrics "http://$maopao_addr/metrics" "${args[@]}" >>"$results"
			else
				"$out/bench" centrifugo -url "ws://127.0.0.1:$cf_port/connection/websocket" -secret "$secret" \
					-metrics "http://127.0.0.1:$cf_port/metrics" "${args[@]}" >>"$results"
			fi
			stop_server
			rm -rf "$out/data-$id"
		done
	done
done

"$out/bench" summary "$results" | tee "$out/summary.md"
