#!/usr/bin/env python3
"""Write a random-weight MoE model with llama.cpp's own GGUF writer (gguf-py).

This checks the direction "files written by llama.cpp's tools load in Maopao's
engine": the container, metadata and tensor data come from gguf-py, not from
our Go writer. Only the tokenizer metadata is copied from another GGUF file
(any Maopao-generated one), so both engines tokenize the same way.

Usage (gguf-py lives in llama.cpp's source tree; numpy from Debian's
python3-numpy):
  PYTHONPATH=$LLAMA_SRC/gguf-py /usr/bin/python3 gguf_py_model.py \
      --arch qwen3moe --type Q8_0 --vocab-from vocab.gguf -o out.gguf
"""
import argparse
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["llama", "qwen3moe"], required=True,
                    help="llama = Mixtral-shaped (experts under arch llama)")
    ap.add_argument("--type", choices=["F32", "F16", "Q8_0"], default="F16")
    ap.add_argument("--vocab-from", required=True, help="GGUF file whose tokenizer.* metadata is copied")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("-o", "--output", required=True)
    # A small shape keeps numpy's quantizer quick; 8 experts top-2 as the bench shape.
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--experts-used", type=int, default=2)
    ap.add_argument("--expert-ff", type=int, default=512)
    a = ap.parse_args()

    src = gguf.GGUFReader(a.vocab_from)
    tok_fields = {n: f for n, f in src.fields.items() if n.startswith("tokenizer.")}
    n_vocab = len(tok_fields["tokenizer.ggml.tokens"].contents())

    w = gguf.GGUFWriter(a.output, a.arch)
    w.add_name(f"gguf-py random {a.arch} MoE")
    w.add_context_length(2048)
    w.add_embedding_length(a.hidden)
    w.add_block_count(a.layers)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0 if a.arch == "llama" else 1000000.0)
    w.add_expert_count(a.experts)
    w.add_expert_used_count(a.experts_used)
    w.add_rope_dimension_count(a.head_dim)
    if a.arch == "llama":
        # Mixtral keeps the expert width in feed_forward_length.
        w.add_feed_forward_length(a.expert_ff)
    else:
        w.add_feed_forward_length(a.expert_ff)
        w.add_expert_feed_forward_length(a.expert_ff)
        w.add_key_length(a.head_dim)
        w.add_value_length(a.head_dim)
    w.add_file_type({"F32": 0, "F16": 1, "Q8_0": 7}[a.type])
    for name, f in tok_fields.items():
        vtype = f.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_key_value(name, f.contents(), vtype, sub_type=f.types[-1])
        else:
            w.add_key_value(name, f.contents(), vtype)

    rng = np.random.default_rng(a.seed)

    def rand(*shape, fan_in):
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    def put(name, arr, quantize=True):
        # numpy shapes are ggml's ne reversed. 1-D tensors (norms) and the
        # router stay F32, as llama.cpp's converters and quantizer keep them.
        if not quantize or arr.ndim == 1 or a.type == "F32":
            w.add_tensor(name, arr)
        elif a.type == "F16":
            w.add_tensor(name, arr.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(arr, QT.Q8_0), raw_dtype=QT.Q8_0)

    H, hd, E, F = a.hidden, a.head_dim, a.experts, a.expert_ff
    put("token_embd.weight", rand(n_vocab, H, fan_in=1))
    put("output_norm.weight", np.ones(H, np.float32))
    # A larger output scale gives the random logits clear margins, so greedy
    # choices are not decided by rounding noise.
    put("output.weight", rand(n_vocab, H, fan_in=H) * 4)
    for i in range(a.layers):
        p = f"blk.{i}."
        put(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(H)).astype(np.float32))
        put(p + "attn_q.weight", rand(a.heads * hd, H, fan_in=H))
        put(p + "attn_k.weight", rand(a.kv_heads * hd, H, fan_in=H))
        put(p + "attn_v.weight", rand(a.kv_heads * hd, H, fan_in=H))
        put(p + "attn_output.weight", rand(H, a.heads * hd, fan_in=a.heads * hd))
        if a.arch == "qwen3moe":
            put(p + "attn_q_norm.weight", (1 + 0.1 * rng.standard_normal(hd)).astype(np.float32))
            put(p + "attn_k_norm.weight", (1 + 0.1 * rng.standard_normal(hd)).astype(np.float32))
        put(p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(H)).astype(np.float32))
        put(p + "ffn_gate_inp.weight", rand(E, H, fan_in=H) * 4, quantize=False)
        put(p + "ffn_gate_exps.weight", rand(E, F, H, fan_in=H))
        put(p + "ffn_up_exps.weight", rand(E, F, H, fan_in=H))
        put(p + "ffn_down_exps.weight", rand(E, H, F, fan_in=F))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {a.output}: gguf-py {a.arch} {a.type}, hidden {H}, {a.layers} layers, "
          f"{E} experts top-{a.experts_used}, vocab {n_vocab}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
