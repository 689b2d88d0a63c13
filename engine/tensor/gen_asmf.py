# Generates asmf_amd64.s: float weight rows (F32, F16, BF16) against four
# activation rows, AVX-512. Run: python3 gen_asmf.py > asmf_amd64.s
import sys

out = []


def e(s=""):
    out.append(s)


PF = 16384  # prefetch distance of the many-row kernels, see gen_asmq8.py


def loader(esize, kind):
    def load(i, z, base="SI"):
        off = i * 16 * esize
        if kind == "f32":
            e(f"\tVMOVUPS {off}({base}), {z}")
        elif kind == "f16":
            e(f"\tVCVTPH2PS {off}({base}), {z}")
        else:  # bf16: widen to 32 bits and shift into the high half
            e(f"\tVPMOVZXWD {off}({base}), {z}")
            e(f"\tVPSLLD $16, {z}, {z}")
    return load


# _mm512_reduce_add_ps of Z{j} into X{j} (lanes i+8, then i+4, then 2 and 1)
def reduce16(j, t="8"):
    z, y, x = f"Z{j}", f"Y{j}", f"X{j}"
    return [f"VEXTRACTF64X4 $1, {z}, Y{t}", f"VADDPS Y{t}, {y}, {y}", f"VEXTRACTF128 $1, {y}, X{t}",
            f"VADDPS X{t}, {x}, {x}", f"VMOVHLPS {x}, {x}, X{t}", f"VADDPS X{t}, {x}, {x}",
            f"VPSHUFD $1, {x}, X{t}", f"VADDSS X{t}, {x}, {x}"]


def kern1rows(name, esize, kind):
    # Consecutive rows against one activation in ggml_vec_dot_f32's order
    # (DotF32x64): four accumulators over 64 weights a step, added as
    # (0+2)+(1+3), then reduced. n must be a multiple of 64.
    load = loader(esize, kind)
    wtype = "float32" if kind == "f32" else "uint16"
    e(f"// func {name}(w *{wtype}, x *float32, n, nrows int, out *float32)")
    e(f"TEXT ·{name}(SB), NOSPLIT, $0-40")
    e("\tMOVQ w+0(FP), SI")
    e("\tMOVQ nrows+24(FP), R13")
    e("\tMOVQ out+32(FP), R12")
    e(f"{name}_row:")
    e("\tMOVQ x+8(FP), DI")
    e("\tMOVQ n+16(FP), CX")
    for j in range(4):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop64:")
    for off in range(0, 64 * esize, 64):
        e(f"\tPREFETCHT0 {PF+off}(SI)")
    for i in range(4):
        load(i, f"Z{4+i}")
    for i in range(4):
        e(f"\tVFMADD231PS {64*i}(DI), Z{4+i}, Z{i}")
    e(f"\tADDQ ${64*esize}, SI")
    e("\tADDQ $256, DI")
    e("\tSUBQ $64, CX")
    e(f"\tJNZ {name}_loop64")
    for l in ["VADDPS Z2, Z0, Z0", "VADDPS Z3, Z1, Z1", "VADDPS Z1, Z0, Z0"] + reduce16(0) + [
            "VMOVSS X0, (R12)", "ADDQ $4, R12", "DECQ R13", f"JNZ {name}_row", "VZEROUPPER", "RET"]:
        e("\t" + l)
    e("")


def kern(name, esize, kind):
    # One row against four activation rows (stride floats apart), each
    # output in tinyBLAS's order (DotF32x16): one 16-lane accumulator per
    # activation. n must be a multiple of 16.
    load = loader(esize, kind)
    wtype = "float32" if kind == "f32" else "uint16"
    e(f"// func {name}(w *{wtype}, x *float32, stride, n int, out *float32)")
    e(f"TEXT ·{name}(SB), NOSPLIT, $0-40")
    e("\tMOVQ w+0(FP), SI")
    e("\tMOVQ stride+16(FP), R9")
    e("\tSHLQ $2, R9")
    e("\tMOVQ x+8(FP), DI")
    e("\tMOVQ n+24(FP), CX")
    e("\tLEAQ (DI)(R9*2), R10")
    e("\tADDQ R9, R10")
    for j in range(4):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop16:")
    load(0, "Z8")
    for j, src in enumerate(["(DI)", "(DI)(R9*1)", "(DI)(R9*2)", "(R10)"]):
        e(f"\tVFMADD231PS {src}, Z8, Z{j}")
    e(f"\tADDQ ${16*esize}, SI")
    e("\tADDQ $64, DI")
    e("\tADDQ $64, R10")
    e("\tSUBQ $16, CX")
    e(f"\tJNZ {name}_loop16")
    e("\tMOVQ out+32(FP), DI")
    for j in range(4):
        for l in reduce16(j):
            e("\t" + l)
        e(f"\tVMOVSS X{j}, {4*j}(DI)")
    e("\tVZEROUPPER")
    e("\tRET")
    e("")


# The four activations (x, stride floats apart) as memory operands, and
# where their sums for the current row go, in the 4-activation many-row
# kernels: DI = x, R9 = stride bytes, R10 = x + 3·stride; R12 = out,
# R11 = ostride bytes, BX = out + 2·ostride.
ACTS = ["(DI)", "(DI)(R9*1)", "(DI)(R9*2)", "(R10)"]
OUTS = ["(R12)", "(R12)(R11*1)", "(BX)", "(BX)(R11*1)"]


def rows4_header(name, kind):
    wtype = "float32" if kind == "f32" else "uint16"
    e(f"// func {name}(w *{wtype}, x *float32, stride, n, nrows int, out *float32, ostride int)")
    e(f"TEXT ·{name}(SB), NOSPLIT, $0-56")
    for l in ["MOVQ w+0(FP), SI", "MOVQ stride+16(FP), R9", "SHLQ $2, R9", "MOVQ nrows+32(FP), R13",
              "MOVQ out+40(FP), R12", "MOVQ ostride+48(FP), R11", "SHLQ $2, R11"]:
        e("\t" + l)


def kern4rows64(name, esize, kind):
    # Consecutive rows against four activations, each output in
    # ggml_vec_dot's order (DotF32x64, as kern1rows): sixteen accumulators,
    # four per activation. For the rows of a batch that llama.cpp sums one
    # by one (expert products). n must be a multiple of 64.
    load = loader(esize, kind)
    rows4_header(name, kind)
    e(f"{name}_row:")
    for l in ["MOVQ x+8(FP), DI", "MOVQ n+24(FP), CX", "LEAQ (DI)(R9*2), R10", "ADDQ R9, R10"]:
        e("\t" + l)
    for j in range(16):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop64:")
    for off in range(0, 64 * esize, 64):
        e(f"\tPREFETCHT0 {PF+off}(SI)")
    for i in range(4):
        load(i, f"Z{16+i}")
    for j, src in enumerate(ACTS):
        for i in range(4):
            e(f"\tVFMADD231PS {src.replace('(', f'{64*i}(', 1)}, Z{16+i}, Z{4*j+i}")
    for l in [f"ADDQ ${64*esize}, SI", "ADDQ $256, DI", "ADDQ $256, R10", "SUBQ $64, CX", f"JNZ {name}_loop64",
              "LEAQ (R12)(R11*2), BX"]:
        e("\t" + l)
    for j in range(4):
        a, b, c, d = 4*j, 4*j+1, 4*j+2, 4*j+3
        for l in [f"VADDPS Z{c}, Z{a}, Z{a}", f"VADDPS Z{d}, Z{b}, Z{b}", f"VADDPS Z{b}, Z{a}, Z{a}"] + reduce16(a, str(b)):
            e("\t" + l)
        e(f"\tVMOVSS X{a}, {OUTS[j]}")
    for l in ["ADDQ $4, R12", "DECQ R13", f"JNZ {name}_row", "VZEROUPPER", "RET"]:
        e("\t" + l)
    e("")


def kern4rows(name, esize, kind):
    # Consecutive rows against four activations, each output in tinyBLAS's
    # order (DotF32x16). Two rows at a time, so that eight accumulators
    # (row pair × activation) hide the FMA latency; an odd last row goes
    # alone. n must be a multiple of 16.
    load = loader(esize, kind)
    rows4_header(name, kind)
    e("\tMOVQ n+24(FP), AX")
    e(f"\tIMULQ ${esize}, AX")  # AX: bytes per row
    srcs = ACTS
    e(f"{name}_pair:")
    e("\tCMPQ R13, $2")
    e(f"\tJLT {name}_single")
    for l in ["MOVQ x+8(FP), DI", "MOVQ n+24(FP), CX", "LEAQ (DI)(R9*2), R10", "ADDQ R9, R10",
              "LEAQ (SI)(AX*1), DX"]:
        e("\t" + l)
    for j in range(8):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop2:")
    e(f"\tPREFETCHT0 {PF}(SI)")
    e(f"\tPREFETCHT0 {PF}(DX)")
    load(0, "Z8")
    load(0, "Z9", "DX")
    for j, src in enumerate(srcs):
        e(f"\tVFMADD231PS {src}, Z8, Z{j}")
        e(f"\tVFMADD231PS {src}, Z9, Z{4+j}")
    for l in [f"ADDQ ${16*esize}, SI", f"ADDQ ${16*esize}, DX", "ADDQ $64, DI", "ADDQ $64, R10",
              "SUBQ $16, CX", f"JNZ {name}_loop2"]:
        e("\t" + l)
    # SI is now at the second row: skip it
    e("\tADDQ AX, SI")
    e("\tLEAQ (R12)(R11*2), BX")
    for j in range(8):
        for l in reduce16(j, "10"):
            e("\t" + l)
        o = OUTS[j % 4]
        if j >= 4:
            o = o.replace("(", "4(", 1)
        e(f"\tVMOVSS X{j}, {o}")
    for l in ["ADDQ $8, R12", "SUBQ $2, R13", f"JMP {name}_pair"]:
        e("\t" + l)
    e(f"{name}_single:")
    e("\tTESTQ R13, R13")
    e(f"\tJZ {name}_done")
    for l in ["MOVQ x+8(FP), DI", "MOVQ n+24(FP), CX", "LEAQ (DI)(R9*2), R10", "ADDQ R9, R10"]:
        e("\t" + l)
    for j in range(4):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop1:")
    load(0, "Z8")
    for j, src in enumerate(srcs):
        e(f"\tVFMADD231PS {src}, Z8, Z{j}")
    for l in [f"ADDQ ${16*esize}, SI", "ADDQ $64, DI", "ADDQ $64, R10", "SUBQ $16, CX", f"JNZ {name}_loop1",
              "LEAQ (R12)(R11*2), BX"]:
        e("\t" + l)
    for j in range(4):
        for l in reduce16(j, "10"):
            e("\t" + l)
        e(f"\tVMOVSS X{j}, {OUTS[j]}")
    e(f"{name}_done:")
    e("\tVZEROUPPER")
    e("\tRET")
    e("")


e("//go:build amd64 && !noasm")
e("")
e("// Code generated by gen_asmf.py; DO NOT EDIT.")
e("")
e('#include "textflag.h"')
e("")
e("// Float weight rows against four activation rows (stride floats apart) or")
e("// one, in the summation orders of llama.cpp's float products (see")
e("// DotF32x16 and DotF32x64); each 16 weights are loaded and converted once.")
e("")
for name, es, kind in (("dotF32x4AVX512", 4, "f32"), ("dotF16x4AVX512", 2, "f16"), ("dotBF16x4AVX512", 2, "bf16")):
    kern(name, es, kind)
    kern4rows(name.replace("x4", "x4rows"), es, kind)
    kern4rows64(name.replace("x4", "x4rows64"), es, kind)
    kern1rows(name.replace("x4", "rows"), es, kind)
sys.stdout.write("\n".join(out) + "\n")
