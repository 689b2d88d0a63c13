# Writes a GGUF file with llama.cpp's gguf-py GGUFWriter, for
# TestGGUFPyInterop to read back with our parser.
# Usage: python3 ggufpy_write.py <gguf-py dir> <out.gguf>
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
from gguf import GGUFWriter, GGMLQuantizationType  # noqa: E402
from gguf.quants import quantize  # noqa: E402

w = GGUFWriter(sys.argv[2], "llama")
w.add_architecture()
w.add_uint8("t.u8", 200)
w.add_int8("t.i8", -7)
w.add_uint32("t.u32", 7)
w.add_int32("t.i32", -5)
w.add_float32("t.f32", 0.25)
w.add_bool("t.bool", True)
w.add_string("t.str", "h\u00e9llo")
w.add_uint64("t.u64", 1 << 40)
w.add_float64("t.f64", -2.5)
w.add_array("t.strs", ["a", "bc", ""])
w.add_array("t.ints", [1, -2, 3])
w.add_array("t.floats", [0.5, 1.5])
w.add_tensor("w.f32", np.arange(6, dtype=np.float32).reshape(2, 3))
w.add_tensor("w.f16", np.array([1, -2, 0.5, 4], dtype=np.float16))
x = np.linspace(-1, 1, 128, dtype=np.float32).reshape(2, 64)
w.add_tensor("w.q8", quantize(x, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
