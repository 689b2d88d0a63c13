#!/usr/bin/env bash
# Side-by-side speed of Maopao's engine and llama.cpp on the same GGUF files.
#
#   bench/engine/compare.sh LLAMA_BIN_DIR [WORK_DIR]
#
# LLAMA_BIN_DIR holds an already built llama.cpp (llama-bench, llama-quantize);
# this script never downloads or builds llama.cpp. WORK_DIR (default
# /tmp/maopao-bench) receives the models and results.tsv.
#
# For each round, model and thread count it runs `maopao engine bench` and
# then `llama-bench` back to back, so both see the same machine load; the
# summary takes medians over rounds of per-round medians, and the best run of
# all rounds (on a shared machine the best is the closest to an idle one).
#
# Environment:
#   MAOPAO    maopao binary (default: go build ./cmd/maopao into WORK_DIR)
#   ARCHS     architectures (default "llama qwen3moe"; llama = Mixtral-shaped)
#   TYPES     weight types (default "F16 Q8_0 Q4_K_M"); Q4_K_M is made by
#             llama-quantize from our F16 file (so is Q8_0_LC, a Q8_0 by
#             llama.cpp), the others are written by maopao engine gen-model
#   THREADS   thread counts (default "1 2")
#   ROUNDS    alternations (default 3), REPS repetitions per run (default 5)
#   PP, TG    prompt and generated tokens (default 512, 128)
#   SHAPE     gen-model's layer shapes (default "bench"; "qwen3-30b-a3b" is
#             Qwen3-30B-A3B's hidden size, heads, experts and vocabulary)
#   LLAMA_ARGS extra llama-bench flags (e.g. "-fa 0": our engine has no flash
#             attention, so this is the like-for-like comparison)
#
# Qwen3-30B-A3B's shapes, one stream, Q8_0 and Q4_K_M:
#   SHAPE=qwen3-30b-a3b ARCHS=qwen3moe TYPES="Q8_0 Q4_K_M" PP=128 TG=32 \
#     ROUNDS=2 REPS=3 LLAMA_ARGS="-fa 0" bench/engine/compare.sh LLAMA_BIN_DIR /tmp/q3
set -euo pipefail

bin=${1:?usage: compare.sh LLAMA_BIN_DIR [WORK_DIR]}
work=${2:-/tmp/maopao-bench}
ARCHS=${ARCHS:-"llama qwen3moe"}
TYPES=${TYPES:-"F16 Q8_0 Q4_K_M"}
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-5}
PP=${PP:-512}
TG=${TG:-128}
SHAPE=${SHAPE:-bench}
LLAMA_ARGS=${LLAMA_ARGS:-}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

for tool in llama-bench llama-quantize; do
  [[ -x $bin/$tool ]] || { echo "compare.sh: $bin/$tool not found or not executable" >&2; exit 2; }
done
mkdir -p "$work"
if [[ -z ${MAOPAO:-} ]]; then
  MAOPAO=$work/maopao
  (cd "$repo" && go build -o "$MAOPAO" ./cmd/maopao)
fi

model() { # arch type -> path, generating it on first use
  local arch=$1 type=$2 f
  f=$work/$arch-$SHAPE-$type.gguf
  if [[ ! -s $f ]]; then
    case $type in
      Q4_K_M|Q8_0_LC)
        model "$arch" F16 >/dev/null
        "$bin/llama-quantize" "$work/$arch-$SHAPE-F16.gguf" "$f" "${type%_LC}" 1 >"$f.log" 2>&1 \
          || { echo "llama-quantize failed, see $f.log" >&2; exit 1; } ;;
      *)
        "$MAOPAO" engine gen-model --arch "$arch" --shape "$SHAPE" --type "$type" -o "$f" >&2 ;;
    esac
  fi
  echo "$f"
}

out=$work/results.tsv
echo -e "round\tengine\tarch\ttype\tthreads\ttest\ttokens_per_s\tbest_tokens_per_s" >"$out"
{
  echo "date: $(date -u +%FT%TZ)"
  lscpu | grep -E 'Model name|^CPU\(s\)|L3' || true
  uptime
  echo "maopao: $("$MAOPAO" --version 2>/dev/null || git -C "$repo" rev-parse --short HEAD)"
  echo "llama.cpp: $("$bin/llama-bench" --version 2>&1 | head -2 | tr '\n' ' ')"
} >"$work/machine.txt"

for round in $(seq 1 "$ROUNDS"); do
  for arch in $ARCHS; do
    for type in $TYPES; do
      f=$(model "$arch" "$type")
      for t in $THREADS; do
        # Maopao: one line per test,
        # "pp512  t=1:   1234.5 tokens/s (median of 5; min 1200.0, max 1250.0)".
        "$MAOPAO" engine bench -m "$f" -p "$PP" -n "$TG" -t "$t" -r "$REPS" |
          awk -v r="$round" -v a="$arch" -v ty="$type" -v t="$t" \
            '/tokens\/s/ { test=$1; for (i=1;i<=NF;i++) if ($(i+1) ~ /^tokens\/s/) v=$i;
                           best=$NF; sub(/\)$/, "", best);
                           printf "%s\tmaopao\t%s\t%s\t%s\t%s\t%s\t%s\n", r, a, ty, t, test, v, best }' >>"$out"
        # llama.cpp: jsonl with every sample; keep the median and the best.
        "$bin/llama-bench" -m "$f" -p "$PP" -n "$TG" -t "$t" -r "$REPS" $LLAMA_ARGS -o jsonl 2>/dev/null |
          /usr/bin/env python3 -c '
import json, sys, statistics
r, a, ty, t = sys.argv[1:5]
for line in sys.stdin:
    d = json.loads(line)
    test = ("pp%d" % d["n_prompt"]) if d["n_prompt"] else ("tg%d" % d["n_gen"])
    ts = d["samples_ts"]
    print("\t".join([r, "llama.cpp", a, ty, t, test, "%.1f" % statistics.median(ts), "%.1f" % max(ts)]))
' "$round" "$arch" "$type" "$t" >>"$out"
        tail -n 4 "$out" >&2
      done
    done
  done
done
python3 "$here/summarize.py" "$out"
