#!/usr/bin/env bash
# Serving side by side: Maopao's `maopao engine serve` and llama.cpp's
# `llama-server` on the same GGUF file and thread count, driven by the same
# load (bench/engine/load), one server at a time, alternating per round.
#
#   bench/engine/serving.sh LLAMA_BIN_DIR MODEL.gguf [WORK_DIR]
#
# LLAMA_BIN_DIR holds an already built llama.cpp (llama-server); this script
# never downloads or builds it. Results go to WORK_DIR/serving.jsonl (one
# JSON line per measurement, tagged with server and settings).
#
# Environment:
#   THREADS  thread counts (default "2")
#   CHATS    concurrent chats for throughput (default "8 32 64")
#   TOKENS   tokens per chat (default 64)
#   ROUNDS   alternations (default 3)
#   PREFIX   1 to also run the warm-persona measurement (default 1), with
#            BACKGROUND other conversations (default 64)
#   CTX      context per conversation (default 2048)
set -euo pipefail

bin=${1:?usage: serving.sh LLAMA_BIN_DIR MODEL.gguf [WORK_DIR]}
model=${2:?usage: serving.sh LLAMA_BIN_DIR MODEL.gguf [WORK_DIR]}
work=${3:-/tmp/maopao-serving}
THREADS=${THREADS:-2}
CHATS=${CHATS:-"8 32 64"}
TOKENS=${TOKENS:-64}
ROUNDS=${ROUNDS:-3}
PREFIX=${PREFIX:-1}
BACKGROUND=${BACKGROUND:-64}
CTX=${CTX:-2048}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$work"
out=$work/serving.jsonl
[[ -x $bin/llama-server ]] || { echo "serving.sh: $bin/llama-server not found" >&2; exit 2; }
(cd "$repo" && go build -o "$work/maopao" ./cmd/maopao && go build -o "$work/load" ./bench/engine/load)

port=18431
pid=
stop_server() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap stop_server EXIT

start_server() { # which threads parallel
  local which=$1 t=$2 np=$3
  case $which in
    maopao)
      "$work/maopao" engine serve -m "$model" --addr 127.0.0.1:$port -t "$t" --parallel "$np" -c "$CTX" \
        >"$work/$which.log" 2>&1 & ;;
    llama)
      "$bin/llama-server" -m "$model" --host 127.0.0.1 --port $port -t "$t" -tb "$t" -np "$np" -c $((CTX * np)) \
        -fa off --no-webui >"$work/$which.log" 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "serving.sh: $which did not start; see $work/$which.log" >&2
  exit 1
}

tag() { # add fields to every JSON line
  python3 -c 'import json,sys
extra=json.loads(sys.argv[1])
for line in sys.stdin:
    d=json.loads(line); d.update(extra); print(json.dumps(d))' "$1"
}

for t in $THREADS; do
  for round in $(seq 1 "$ROUNDS"); do
    for which in maopao llama; do
      for n in $CHATS; do
        start_server "$which" "$t" "$n"
        "$work/load" -url "http://127.0.0.1:$port" -mode throughput -chats "$n" -tokens "$TOKENS" -rounds 1 \
          | tag "{\"server\":\"$which\",\"threads\":$t,\"set\":$round,\"model\":\"$(basename "$model")\"}" | tee -a "$out"
        stop_server
      done
      if [[ $PREFIX == 1 ]]; then
        start_server "$which" "$t" $((BACKGROUND + 1))
        "$work/load" -url "http://127.0.0.1:$port" -mode prefix -background "$BACKGROUND" -rounds 2 \
          | tag "{\"server\":\"$which\",\"threads\":$t,\"set\":$round,\"model\":\"$(basename "$model")\"}" | tee -a "$out"
        stop_server
      fi
    done
  done
done
echo "results in $out"
