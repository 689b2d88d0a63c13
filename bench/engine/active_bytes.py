#!/usr/bin/env python3
"""Bytes of weights one decode step reads from a MoE GGUF file: every
tensor except the token embedding (one row is looked up), and of each
expert tensor only the share of experts a token uses (expert_used_count /
expert_count). Divided into a memory bandwidth it gives the ceiling on
generated tokens per second.

  PYTHONPATH=$LLAMA_SRC/gguf-py python3 active_bytes.py [--gbs 40] FILE...
"""
import argparse

import gguf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gbs", type=float, default=0, help="memory bandwidth in GB/s for a ceiling")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    for path in a.files:
        r = gguf.GGUFReader(path)
        arch = r.fields["general.architecture"].contents()
        used = r.fields[f"{arch}.expert_used_count"].contents()
        count = r.fields[f"{arch}.expert_count"].contents()
        total = 0.0
        for t in r.tensors:
            if t.name == "token_embd.weight":
                continue
            n = int(t.n_bytes)
            total += n * used / count if "_exps." in t.name else n
        line = f"{path}: {total / 1e6:.1f} MB per generated token"
        if a.gbs:
            line += f", ceiling {a.gbs * 1e9 / total:.0f} tokens/s at {a.gbs:g} GB/s"
        print(line)


if __name__ == "__main__":
    main()
