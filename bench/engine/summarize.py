#!/usr/bin/env python3
"""Summarize compare.sh's results.tsv as a Markdown table: the median over
rounds of each engine's tokens/s and the ratio maopao / llama.cpp, then the
same for the best run of all rounds (when the file has that column)."""
import collections
import csv
import statistics
import sys


def main(path: str) -> None:
    runs = collections.defaultdict(list)
    best = collections.defaultdict(float)
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["arch"], row["type"], int(row["threads"]), row["test"], row["engine"])
            runs[key].append(float(row["tokens_per_s"]))
            if row.get("best_tokens_per_s"):
                best[key] = max(best[key], float(row["best_tokens_per_s"]))
    cases = sorted({k[:4] for k in runs}, key=lambda k: (k[0], k[1], k[2], k[3][:2] != "pp"))
    head = "| model | type | threads | test | maopao t/s | llama.cpp t/s | maopao/llama.cpp | rounds |"
    if best:
        head += " best maopao | best llama.cpp | best ratio |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for arch, typ, t, test in cases:
        mk, lk = (arch, typ, t, test, "maopao"), (arch, typ, t, test, "llama.cpp")
        m, l = runs.get(mk, []), runs.get(lk, [])
        mm = statistics.median(m) if m else float("nan")
        lm = statistics.median(l) if l else float("nan")
        name = {"llama": "Mixtral-shaped", "qwen3moe": "Qwen3-MoE-shaped"}.get(arch, arch)
        line = f"| {name} | {typ} | {t} | {test} | {mm:.1f} | {lm:.1f} | {mm / lm:.2f} | {min(len(m), len(l))} |"
        if best:
            bm, bl = best.get(mk, float("nan")), best.get(lk, float("nan"))
            line += f" {bm:.1f} | {bl:.1f} | {bm / bl:.2f} |"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results.tsv")
