# Reads a GGUF file with llama.cpp's gguf-py and dumps what it sees, for
# TestGGUFPyInterop: fields.json (metadata as gguf-py decodes it), the
# dequantization of every "deq.*" tensor, and gguf-py's reference
# quantization of every "src.<TYPE>.*" F32 tensor.
# Usage: python3 ggufpy_check.py <gguf-py dir> <file.gguf> <out dir>
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
from gguf import GGUFReader, GGMLQuantizationType  # noqa: E402
from gguf.quants import dequantize, quantize  # noqa: E402

r = GGUFReader(sys.argv[2])
out = sys.argv[3]
fields = {}
for name, f in r.fields.items():
    if name.startswith("GGUF."):
        continue
    fields[name] = {"types": [int(t) for t in f.types], "value": f.contents()}
with open(os.path.join(out, "fields.json"), "w") as fh:
    json.dump(fields, fh)
for t in r.tensors:
    if t.name.startswith("deq."):
        dequantize(t.data, t.tensor_type).astype("<f4").tofile(os.path.join(out, t.name + ".f32"))
    elif t.name.startswith("src."):
        qt = GGMLQuantizationType[t.name.split(".")[1]]
        q = quantize(np.asarray(t.data, dtype=np.float32).reshape(-1), qt)
        np.asarray(q).tofile(os.path.join(out, t.name + ".q"))
