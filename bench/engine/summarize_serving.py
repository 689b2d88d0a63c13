#!/usr/bin/env python3
"""Summarise bench/engine/serving.sh results: medians over sets, per server,
thread count and concurrency, and Maopao's ratio to llama-server.

    python3 bench/engine/summarize_serving.py WORK_DIR/serving.jsonl
"""
import json
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    tput = defaultdict(list)   # (model, threads, chats, server) -> tokens/s per set
    prefix = defaultdict(list)  # (model, threads, server) -> warm/cold ratios
    cold = defaultdict(list)
    warm = defaultdict(list)
    hits = defaultdict(list)
    for r in rows:
        if r.get("summary"):
            if r["mode"] == "prefix" and "hit_rate_tokens" in r:
                hits[(r["model"], r["threads"], r["server"])].append(r["hit_rate_tokens"])
            continue
        if r["mode"] == "throughput":
            tput[(r["model"], r["threads"], r["chats"], r["server"])].append(r["tokens_per_s"])
        elif r["mode"] == "prefix":
            k = (r["model"], r["threads"], r["server"])
            prefix[k].append(r["warm_over_cold"])
            cold[k].append(r["cold_ttft_s"])
            warm[k].append(r["warm_ttft_s"])

    print("| model | threads | chats | Maopao tok/s | llama-server tok/s | Maopao / llama-server | sets |")
    print("|---|---|---|---|---|---|---|")
    for (model, threads, chats) in sorted({k[:3] for k in tput}):
        m = tput.get((model, threads, chats, "maopao"), [])
        l = tput.get((model, threads, chats, "llama"), [])
        if not m or not l:
            continue
        mm, lm = statistics.median(m), statistics.median(l)
        print(f"| {model} | {threads} | {chats} | {mm:.0f} | {lm:.0f} | **{mm / lm:.2f}×** | {len(m)} |")
    print()
    print("| model | threads | server | cold TTFT s | warm TTFT s | warm / cold | token hit rate | rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for k in sorted(prefix):
        model, threads, server = k
        hr = hits.get(k)
        hr_s = f"{statistics.median(hr):.2f}" if hr else "n/a"
        print(f"| {model} | {threads} | {server} | {statistics.median(cold[k]):.2f} | {statistics.median(warm[k]):.3f} | "
              f"**{100 * statistics.median(prefix[k]):.1f}%** | {hr_s} | {len(prefix[k])} |")


if __name__ == "__main__":
    main(sys.argv[1])
