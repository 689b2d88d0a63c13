# Generates asmf_amd64.s: float weight rows (F32, F16, BF16) against four
# activation rows, AVX-512. Run: python3 gen_asmf.py > asmf_amd64.s
import sys

out = []


def e(s=""):
    out.append(s)


PF = 16384  # prefetch distance of the many-row kernels, see gen_asmq8.py


def kern1rows(name, esize, kind):
    # consecutive rows against one activation: four accumulators over 64
    # weights a step, then 16 at a time
    def load(i, z):
        off = i * 16 * esize
        if kind == "f32":
            e(f"\tVMOVUPS {off}(SI), {z}")
        elif kind == "f16":
            e(f"\tVCVTPH2PS {off}(SI), {z}")
        else:
            e(f"\tVPMOVZXWD {off}(SI), {z}")
            e(f"\tVPSLLD $16, {z}, {z}")
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
    e("\tCMPQ CX, $64")
    e(f"\tJLT {name}_loop16")
    for off in range(0, 64 * esize, 64):
        e(f"\tPREFETCHT0 {PF+off}(SI)")
    for i in range(4):
        load(i, f"Z{4+i}")
    for i in range(4):
        e(f"\tVFMADD231PS {64*i}(DI), Z{4+i}, Z{i}")
    e(f"\tADDQ ${64*esize}, SI")
    e("\tADDQ $256, DI")
    e("\tSUBQ $64, CX")
    e(f"\tJMP {name}_loop64")
    e(f"{name}_loop16:")
    e("\tCMPQ CX, $16")
    e(f"\tJLT {name}_done")
    load(0, "Z4")
    e("\tVFMADD231PS (DI), Z4, Z0")
    e(f"\tADDQ ${16*esize}, SI")
    e("\tADDQ $64, DI")
    e("\tSUBQ $16, CX")
    e(f"\tJMP {name}_loop16")
    e(f"{name}_done:")
    e("\tVADDPS Z1, Z0, Z0")
    e("\tVADDPS Z3, Z2, Z2")
    e("\tVADDPS Z2, Z0, Z0")
    for l in ["VEXTRACTF64X4 $1, Z0, Y8", "VADDPS Y8, Y0, Y0", "VEXTRACTF128 $1, Y0, X8",
              "VADDPS X8, X0, X0", "VMOVHLPS X0, X0, X8", "VADDPS X8, X0, X0",
              "VPSHUFD $1, X0, X8", "VADDSS X8, X0, X0", "VMOVSS X0, (R12)",
              "ADDQ $4, R12", "DECQ R13", f"JNZ {name}_row", "VZEROUPPER", "RET"]:
        e("\t" + l)
    e("")


def kern(name, esize, kind, rows=False):
    def load(i, z):
        off = i * 16 * esize
        if kind == "f32":
            e(f"\tVMOVUPS {off}(SI), {z}")
        elif kind == "f16":
            e(f"\tVCVTPH2PS {off}(SI), {z}")
        else:  # bf16: widen to 32 bits and shift into the high half
            e(f"\tVPMOVZXWD {off}(SI), {z}")
            e(f"\tVPSLLD $16, {z}, {z}")

    def step(k):
        e(f"\tADDQ ${16*esize*k}, SI")
        e(f"\tADDQ ${64*k}, DI")
        e(f"\tADDQ ${64*k}, R10")

    wtype = "float32" if kind == "f32" else "uint16"
    if rows:
        e(f"// func {name}(w *{wtype}, x *float32, stride, n, nrows int, out *float32, ostride int)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-56")
    else:
        e(f"// func {name}(w *{wtype}, x *float32, stride, n int, out *float32)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-40")
    e("\tMOVQ w+0(FP), SI")
    e("\tMOVQ stride+16(FP), R9")
    e("\tSHLQ $2, R9")
    if rows:
        # consecutive rows: SI runs on from one row into the next
        e("\tMOVQ nrows+32(FP), R13")
        e("\tMOVQ out+40(FP), R12")
        e("\tMOVQ ostride+48(FP), R11")
        e("\tSHLQ $2, R11")
        e(f"{name}_row:")
    e("\tMOVQ x+8(FP), DI")
    e("\tMOVQ n+24(FP), CX")
    e("\tLEAQ (DI)(R9*2), R10")
    e("\tADDQ R9, R10")
    for j in range(8):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop32:")
    e("\tCMPQ CX, $32")
    e(f"\tJLT {name}_loop16")
    if rows:
        for off in range(0, 32 * esize, 64):
            e(f"\tPREFETCHT0 {PF+off}(SI)")
    load(0, "Z8")
    load(1, "Z9")
    for h, z in ((0, "Z8"), (1, "Z9")):
        off = 64 * h
        e(f"\tVFMADD231PS {off}(DI), {z}, Z{4*h+0}")
        e(f"\tVFMADD231PS {off}(DI)(R9*1), {z}, Z{4*h+1}")
        e(f"\tVFMADD231PS {off}(DI)(R9*2), {z}, Z{4*h+2}")
        e(f"\tVFMADD231PS {off}(R10), {z}, Z{4*h+3}")
    step(2)
    e("\tSUBQ $32, CX")
    e(f"\tJMP {name}_loop32")
    e(f"{name}_loop16:")
    e("\tCMPQ CX, $16")
    e(f"\tJLT {name}_done")
    load(0, "Z8")
    e("\tVFMADD231PS (DI), Z8, Z0")
    e("\tVFMADD231PS (DI)(R9*1), Z8, Z1")
    e("\tVFMADD231PS (DI)(R9*2), Z8, Z2")
    e("\tVFMADD231PS (R10), Z8, Z3")
    step(1)
    e("\tSUBQ $16, CX")
    e(f"\tJMP {name}_loop16")
    e(f"{name}_done:")
    for j in range(4):
        e(f"\tVADDPS Z{j+4}, Z{j}, Z{j}")
    if rows:
        e("\tMOVQ R12, DI")
        e("\tLEAQ (R12)(R11*2), BX")
    else:
        e("\tMOVQ out+32(FP), DI")
    for j in range(4):
        z, y, x = f"Z{j}", f"Y{j}", f"X{j}"
        for l in [f"VEXTRACTF64X4 $1, {z}, Y8", f"VADDPS Y8, {y}, {y}", f"VEXTRACTF128 $1, {y}, X8",
                  f"VADDPS X8, {x}, {x}", f"VMOVHLPS {x}, {x}, X8", f"VADDPS X8, {x}, {x}",
                  f"VPSHUFD $1, {x}, X8", f"VADDSS X8, {x}, {x}"]:
            e("\t" + l)
        if rows:
            e("\t" + ["VMOVSS X0, (DI)", "VMOVSS X1, (DI)(R11*1)", "VMOVSS X2, (BX)", "VMOVSS X3, (BX)(R11*1)"][j])
        else:
            e(f"\tVMOVSS {x}, {4*j}(DI)")
    if rows:
        e("\tADDQ $4, R12")
        e("\tDECQ R13")
        e(f"\tJNZ {name}_row")
    e("\tVZEROUPPER")
    e("\tRET")
    e("")


e("//go:build amd64 && !noasm")
e("")
e("// Code generated by gen_asmf.py; DO NOT EDIT.")
e("")
e('#include "textflag.h"')
e("")
e("// Float weight rows against four activation rows (stride floats apart):")
e("// each 16 weights are loaded and converted once and feed four FMAs.")
e("")
for name, es, kind in (("dotF32x4AVX512", 4, "f32"), ("dotF16x4AVX512", 2, "f16"), ("dotBF16x4AVX512", 2, "bf16")):
    kern(name, es, kind)
    kern(name.replace("x4", "x4rows"), es, kind, rows=True)
    kern1rows(name.replace("x4", "rows"), es, kind)
sys.stdout.write("\n".join(out) + "\n")
