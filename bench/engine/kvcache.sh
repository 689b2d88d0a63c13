#!/usr/bin/env bash
# KV cache types side by side with llama.cpp: one decode step at 2,047
# cached tokens (ours) and llama-bench's tg16 at depth 2047, one thread,
# flash attention off, on the same GGUF file.
#   LLAMA_BENCH=/path/to/llama-bench MODEL=/tmp/bench-qwen3moe-f32.gguf bench/engine/kvcache.sh
# Write the model with:
#   go run ./cmd/maopao engine gen-model --shape bench --arch qwen3moe --type F32 -o /tmp/bench-qwen3moe-f32.gguf
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LLAMA_BENCH:?set LLAMA_BENCH to the llama-bench of a llama.cpp build}"
MODEL=${MODEL:-/tmp/bench-qwen3moe-f32.gguf}
echo "### Maopao"
MAOPAO_BENCH_MODEL=$MODEL go test ./engine/model -run XXX -bench DecodeAt2048 -benchtime 30x -count 2 | grep Benchmark
echo "### llama.cpp (llama-bench refuses -ctk f32; q8_0 values need flash attention)"
for kv in "f16 f16" "q8_0 f16"; do
	set -- $kv
	"$LLAMA_BENCH" -m "$MODEL" -p 0 -n 16 -d 2047 -t 1 -fa off -ctk "$1" -ctv "$2" -r 3 2>&1 | grep tg16
done
