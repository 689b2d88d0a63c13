# Generates avx2_{1,4}_amd64.s: AVX2+FMA+F16C kernels for CPUs without
# AVX-512 VNNI, over J = 1 or 4 activations (same packed layouts as the
# AVX-512 kernels). Run: python3 gen_avx2.py J > avx2_J_amd64.s
import sys

J = int(sys.argv[1])
suf = "x4" if J == 4 else ""
out = []


def e(s=""):
    out.append(s)


def ins(*ls):
    for l in ls:
        e("\t" + l)


def hsum(j, t="8"):
    y, x = f"Y{j}", f"X{j}"
    ins(f"VEXTRACTF128 $1, {y}, X{t}", f"VADDPS X{t}, {x}, {x}", f"VMOVHLPS {x}, {x}, X{t}",
        f"VADDPS X{t}, {x}, {x}", f"VPSHUFD $1, {x}, X{t}", f"VADDSS X{t}, {x}, {x}")


def store_out(off, kind="hsum8"):
    # J = 1 kernels return the sum; J = 4 ones store through out. kind is how
    # the lanes become the sum, as in gen_asmk.py's finish.
    if J > 1:
        ins(f"MOVQ out+{off}(FP), DI")
    for j in range(J):
        if kind == "sub01":
            ins(f"VMOVSHDUP X{j}, X8", f"VSUBSS X8, X{j}, X{j}")
        else:
            hsum(j)
        if kind == "hsum8+":
            ins(f"VADDSS sm-{48-4*j}(SP), X{j}, X{j}")
        ins(f"VMOVSS X{j}, {4*j}(DI)" if J > 1 else f"VMOVSS X0, ret+{off}(FP)")
    ins("VZEROUPPER", "RET")
    e()


KSCALES = ["MOVL 4(SI), DX", "MOVL 8(SI), R10", "MOVL 12(SI), R11",
           "MOVL R11, AX", "ANDL $0x0f0f0f0f, AX", "MOVL DX, BX", "SHRL $6, BX", "ANDL $0x03030303, BX",
           "SHLL $4, BX", "ORL BX, AX", "SHLQ $32, AX", "MOVL DX, BX", "ANDL $0x3f3f3f3f, BX", "ORQ BX, AX",
           "SHRL $4, R11", "ANDL $0x0f0f0f0f, R11", "MOVL R10, BX", "SHRL $6, BX", "ANDL $0x03030303, BX",
           "SHLL $4, BX", "ORL R11, BX", "SHLQ $32, BX", "ANDL $0x3f3f3f3f, R10", "ORQ R10, BX"]


def k4scales():
    # a Q4_K/Q5_K block's sub-block scales as words at sc-32(SP), its mins
    # as dwords in Y15
    ins(*KSCALES)
    ins("VMOVQ AX, X8", "VPMOVZXBW X8, X8", "VMOVDQU X8, sc-32(SP)", "VMOVQ BX, X15", "VPMOVZXBD X15, Y15")


def f16(off, x, y):
    ins(f"MOVWLZX {off}(SI), AX", f"VMOVD AX, {x}", f"VCVTPH2PS {x}, {x}", f"VBROADCASTSS {x}, {y}")


def kprologue(name, five=False):
    if J == 1:
        e(f"// func {name}(row *byte, qs *int8, d *float32, bs *int16, nb int) float32")
        e(f"TEXT ·{name}(SB), NOSPLIT, $48-44")
    else:
        e(f"// func {name}(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $48-48")
    ins("MOVQ row+0(FP), SI", "MOVQ qs+8(FP), DI", "MOVQ d+16(FP), R8", "MOVQ bs+24(FP), R9", "MOVQ nb+32(FP), CX")
    for j in range(J):
        ins(f"VXORPS Y{j}, Y{j}, Y{j}")
        if five:
            # Q5_K's mins chain of activation j (ggml's summs)
            ins(f"MOVL $0, sm-{48-4*j}(SP)")


def knext(name, bb, kind):
    ins(f"ADDQ ${bb}, SI", f"ADDQ ${256*J}, DI", f"ADDQ ${4*J}, R8", f"ADDQ ${32*J}, R9", "DECQ CX", f"JNZ {name}_loop")
    store_out(40, kind)


def acc(src_off, wreg, sreg):
    for j in range(J):
        ins(f"VPMADDUBSW {256*j+src_off}(DI), {wreg}, Y10", f"VPMADDWD {sreg}, Y10, Y10", f"VPADDD Y10, Y{4+j}, Y{4+j}")


def q45(name, five):
    bb, qsoff = (176, 48) if five else (144, 16)
    kprologue(name, five)
    e(f"{name}_loop:")
    k4scales()
    for j in range(J):
        ins(f"VPXOR Y{4+j}, Y{4+j}, Y{4+j}")
    if five:
        ins("VMOVDQU 16(SI), Y14")
    for c in range(4):
        ins(f"VMOVDQU {qsoff+32*c}(SI), Y9", "VPAND k0F<>(SB), Y9, Y8", "VPSRLW $4, Y9, Y9", "VPAND k0F<>(SB), Y9, Y9")
        if five:
            ins(f"VPSRLW ${2*c}, Y14, Y10", "VPAND k01<>(SB), Y10, Y10", "VPSLLW $4, Y10, Y10", "VPOR Y10, Y8, Y8",
                f"VPSRLW ${2*c+1}, Y14, Y10", "VPAND k01<>(SB), Y10, Y10", "VPSLLW $4, Y10, Y10", "VPOR Y10, Y9, Y9")
        ins(f"VPBROADCASTW sc-{32-4*c}(SP), Y11")
        acc(64*c, "Y8", "Y11")
        ins(f"VPBROADCASTW sc-{32-4*c-2}(SP), Y11")
        acc(64*c+32, "Y9", "Y11")
    if five:
        f16(0, "X8", "Y8")
        f16(2, "X9", "Y9")
    else:
        ins("MOVL (SI), AX", "VMOVD AX, X8", "VCVTPH2PS X8, X8")  # [d, dmin]
    for j in range(J):
        # Y10: the eight 32-wide sub-blocks' mins times their partial sums
        ins(f"VMOVDQU {32*j}(R9), Y10", "VPMADDWD k1w<>(SB), Y10, Y10", "VPMULLD Y15, Y10, Y10")
        if five:
            # mins: one total per block into a scalar chain; sums: 8 lanes
            ins("VEXTRACTI128 $1, Y10, X12", "VPADDD X12, X10, X10", "VPHADDD X10, X10, X10",
                "VPHADDD X10, X10, X10", "VCVTDQ2PS X10, X10", f"VBROADCASTSS {4*j}(R8), Y11",
                "VMULPS X11, X9, X12", f"VMOVSS sm-{48-4*j}(SP), X13", "VFNMADD231SS X10, X12, X13",
                f"VMOVSS X13, sm-{48-4*j}(SP)", "VMULPS Y11, Y8, Y12", f"VCVTDQ2PS Y{4+j}, Y13",
                f"VFMADD231PS Y13, Y12, Y{j}")
        else:
            # whole-block totals [sums, mins] into X{j} = [acc, accMin]
            ins(f"VPHADDD Y10, Y{4+j}, Y13", "VEXTRACTI128 $1, Y13, X12", "VPADDD X12, X13, X13",
                "VPHADDD X13, X13, X13", "VCVTDQ2PS X13, X13", f"VBROADCASTSS {4*j}(R8), X11",
                "VMULPS X11, X8, X11", f"VFMADD231PS X13, X11, X{j}")
    knext(name, bb, "hsum8+" if five else "sub01")


def q4_batch(name):
    # Q4_K over four activations in the repacked gemm's order (see
    # gen_asmk.py's kernel_q4_batch): X0 sums chain, X1 mins chain, X2 d·dₐ,
    # X3 dmin·dₐ, one lane per activation.
    kprologue(name)
    e(f"{name}_loop:")
    k4scales()
    f16(0, "X2", "X2")
    f16(2, "X3", "X3")
    ins("VMULPS (R8), X2, X2", "VMULPS (R8), X3, X3")
    for c in range(4):
        for j in range(J):
            ins(f"VPXOR Y{4+j}, Y{4+j}, Y{4+j}")
        ins(f"VMOVDQU {16+32*c}(SI), Y9", "VPAND k0F<>(SB), Y9, Y8", "VPSRLW $4, Y9, Y9", "VPAND k0F<>(SB), Y9, Y9")
        ins(f"VPBROADCASTW sc-{32-4*c}(SP), Y11")
        acc(64*c, "Y8", "Y11")
        ins(f"VPBROADCASTW sc-{32-4*c-2}(SP), Y11")
        acc(64*c+32, "Y9", "Y11")
        ins("VPHADDD Y5, Y4, Y4", "VPHADDD Y7, Y6, Y6", "VPHADDD Y6, Y4, Y4", "VEXTRACTI128 $1, Y4, X12",
            "VPADDD X12, X4, X4", "VCVTDQ2PS X4, X4", "VFMADD231PS X4, X2, X0")
    for j in range(J):
        ins(f"VMOVDQU {32*j}(R9), Y{4+j}", f"VPMADDWD k1w<>(SB), Y{4+j}, Y{4+j}", f"VPMULLD Y15, Y{4+j}, Y{4+j}")
    ins("VPHADDD Y5, Y4, Y4", "VPHADDD Y7, Y6, Y6", "VSHUFPS $0x88, Y6, Y4, Y5", "VSHUFPS $0xdd, Y6, Y4, Y7",
        "VCVTDQ2PS Y5, Y5", "VCVTDQ2PS Y7, Y7", "VFMADD231PS X5, X3, X1", "VFMADD231PS X7, X3, X1",
        "VEXTRACTF128 $1, Y5, X5", "VEXTRACTF128 $1, Y7, X7", "VFMADD231PS X5, X3, X1", "VFMADD231PS X7, X3, X1")
    ins("ADDQ $144, SI", f"ADDQ ${256*J}, DI", f"ADDQ ${4*J}, R8", f"ADDQ ${32*J}, R9", "DECQ CX", f"JNZ {name}_loop")
    ins("VSUBPS X1, X0, X0", "MOVQ out+40(FP), DI", "VMOVUPS X0, (DI)", "VZEROUPPER", "RET")
    e()


def q6(name):
    kprologue(name)
    e(f"{name}_loop:")
    ins("VPMOVSXBW 192(SI), Y15", "VMOVDQU Y15, sc-32(SP)")
    for j in range(J):
        ins(f"VMOVDQU {32*j}(R9), Y10", "VPMADDWD Y15, Y10, Y10", "VPSLLD $5, Y10, Y10",
            f"VPXOR Y{4+j}, Y{4+j}, Y{4+j}", f"VPSUBD Y10, Y{4+j}, Y{4+j}")
    for h in range(2):
        ins(f"VMOVDQU {128+32*h}(SI), Y14")
        for v in range(4):
            ins(f"VMOVDQU {64*h + (32 if v % 2 else 0)}(SI), Y8")
            if v >= 2:
                ins("VPSRLW $4, Y8, Y8")
            ins("VPAND k0F<>(SB), Y8, Y8", f"VPSRLW ${2*v}, Y14, Y9", "VPAND k03<>(SB), Y9, Y9", "VPSLLW $4, Y9, Y9",
                "VPOR Y9, Y8, Y8")
            g = 8*h + 2*v
            ins(f"VPBROADCASTW sc-{32-2*g}(SP), X11", f"VPBROADCASTW sc-{32-2*g-2}(SP), X12",
                "VINSERTI128 $1, X12, Y11, Y11")
            acc(128*h + 32*v, "Y8", "Y11")
    f16(208, "X8", "Y8")
    for j in range(J):
        ins(f"VBROADCASTSS {4*j}(R8), Y11", "VMULPS Y11, Y8, Y11", f"VCVTDQ2PS Y{4+j}, Y13",
            f"VFMADD231PS Y13, Y11, Y{j}")
    knext(name, 210, "hsum8")


def q32(name, q4):
    bb = 18 if q4 else 34
    if J == 1:
        e(f"// func {name}(row *byte, qs *int8, d *float32, npairs int) float32")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-36")
    else:
        e(f"// func {name}(row *byte, qs *int8, d *float32, npairs int, out *float32)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-40")
    ins("MOVQ row+0(FP), SI", "MOVQ qs+8(FP), DI", "MOVQ d+16(FP), R8", "MOVQ npairs+24(FP), CX")
    for j in range(J):
        ins(f"VXORPS Y{j}, Y{j}, Y{j}")
    e(f"{name}_loop:")
    for b in range(2):
        if q4:
            ins(f"VMOVDQU {2+bb*b}(SI), X8", "VPSRLW $4, X8, X9", "VINSERTI128 $1, X9, Y8, Y8", "VPAND k0F<>(SB), Y8, Y8",
                "VPSUBB k08<>(SB), Y8, Y8")
        else:
            ins(f"VMOVDQU {2+bb*b}(SI), Y8")
        ins("VPABSB Y8, Y9", f"MOVWLZX {bb*b}(SI), AX", "VMOVD AX, X12", "VCVTPH2PS X12, X12")
        for j in range(J):
            ins(f"VMOVDQU {64*j+32*b}(DI), Y10", "VPSIGNB Y8, Y10, Y10", "VPMADDUBSW Y10, Y9, Y10",
                "VPMADDWD k1w<>(SB), Y10, Y10", "VCVTDQ2PS Y10, Y10", f"VMULSS {8*j+4*b}(R8), X12, X11",
                "VBROADCASTSS X11, Y11", f"VFMADD231PS Y10, Y11, Y{j}")
    ins(f"ADDQ ${2*bb}, SI", f"ADDQ ${64*J}, DI", f"ADDQ ${8*J}, R8", "DECQ CX", f"JNZ {name}_loop")
    store_out(32)


def flt(name, kind):
    esize = 4 if kind == "f32" else 2
    wtype = "float32" if kind == "f32" else "uint16"

    def load(i, y):
        off = i * 8 * esize
        if kind == "f32":
            ins(f"VMOVUPS {off}(SI), {y}")
        elif kind == "f16":
            ins(f"VCVTPH2PS {off}(SI), {y}")
        else:
            ins(f"VPMOVZXWD {off}(SI), {y}", f"VPSLLD $16, {y}, {y}")

    xs = ["(DI)", "(DI)(R9*1)", "(DI)(R9*2)", "(R10)"][:J]

    def fmas(h, y):
        for j in range(J):
            src = xs[j] if h == 0 else xs[j].replace("(", f"{32*h}(", 1)
            ins(f"VFMADD231PS {src}, {y}, Y{j + 4*h}")

    def step(k):
        ins(f"ADDQ ${8*esize*k}, SI", f"ADDQ ${32*k}, DI")
        if J == 4:
            ins(f"ADDQ ${32*k}, R10")

    if J == 1:
        e(f"// func {name}(w *{wtype}, x *float32, stride, n int) float32")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-36")
    else:
        e(f"// func {name}(w *{wtype}, x *float32, stride, n int, out *float32)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-40")
    ins("MOVQ w+0(FP), SI", "MOVQ x+8(FP), DI", "MOVQ stride+16(FP), R9", "SHLQ $2, R9", "MOVQ n+24(FP), CX",
        "LEAQ (DI)(R9*2), R10", "ADDQ R9, R10")
    for j in range(8):
        ins(f"VXORPS Y{j}, Y{j}, Y{j}")
    e(f"{name}_loop16:")
    ins("CMPQ CX, $16", f"JLT {name}_loop8")
    load(0, "Y8")
    load(1, "Y9")
    fmas(0, "Y8")
    fmas(1, "Y9")
    step(2)
    ins("SUBQ $16, CX", f"JMP {name}_loop16")
    e(f"{name}_loop8:")
    ins("CMPQ CX, $8", f"JLT {name}_done")
    load(0, "Y8")
    fmas(0, "Y8")
    step(1)
    ins("SUBQ $8, CX", f"JMP {name}_loop8")
    e(f"{name}_done:")
    for j in range(4):
        ins(f"VADDPS Y{j+4}, Y{j}, Y{j}")
    store_out(32)


def quant_act():
    e("// func quantActAVX2(x *float32, q *int8, d *float32, bs *int16, nb, blk int)")
    e("// Same contract and results as quantActAVX512; blk is a multiple of 32.")
    e("TEXT ·quantActAVX2(SB), NOSPLIT, $0-48")
    ins("MOVQ x+0(FP), SI", "MOVQ q+8(FP), DI", "MOVQ d+16(FP), R8", "MOVQ bs+24(FP), R9", "MOVQ nb+32(FP), CX",
        "MOVQ blk+40(FP), DX", "VBROADCASTSS kf127<>(SB), X11", "VMOVDQU kperm<>(SB), Y12",
        "VBROADCASTSS kf1<>(SB), X13")
    e("qa2Block:")
    ins("VPXOR Y1, Y1, Y1", "MOVQ SI, R10", "MOVQ DX, R11", "SHRQ $3, R11")
    e("qa2Max:")
    ins("VMOVDQU (R10), Y2", "VPAND kabs<>(SB), Y2, Y2", "VPMAXUD Y2, Y1, Y1",
        "ADDQ $32, R10", "DECQ R11", "JNZ qa2Max")
    ins("VEXTRACTI128 $1, Y1, X2", "VPMAXUD X2, X1, X1", "VPSHUFD $0x4e, X1, X2", "VPMAXUD X2, X1, X1",
        "VPSHUFD $1, X1, X2", "VPMAXUD X2, X1, X1", "VMOVD X1, AX", "CMPL AX, $0x7f800000", "JAE qa2NonFinite",
        "CMPL AX, $0x0da24260", "JB qa2Zero", "VDIVSS X1, X11, X3", "VDIVSS X11, X1, X4", "CMPQ DX, $256",
        "JNE qa2Scale", "VDIVSS X3, X13, X4")
    e("qa2Scale:")
    ins("VMOVSS X4, (R8)", "VBROADCASTSS X3, Y3", "MOVQ DX, R11", "SHRQ $5, R11")
    e("qa2Conv:")
    for k in range(4):
        ins(f"VMULPS {32*k}(SI), Y3, Y{4+k}", f"VCVTPS2DQ Y{4+k}, Y{4+k}")
    for g, (a, b) in enumerate(((4, 5), (6, 7))):
        ins(f"VPADDD Y{b}, Y{a}, Y8", "VEXTRACTI128 $1, Y8, X9", "VPADDD X9, X8, X8", "VPSHUFD $0x4e, X8, X9",
            "VPADDD X9, X8, X8", "VPSHUFD $1, X8, X9", "VPADDD X9, X8, X8", "VMOVD X8, AX", f"MOVW AX, {2*g}(R9)")
    ins("VPACKSSDW Y5, Y4, Y8", "VPACKSSDW Y7, Y6, Y9", "VPACKSSWB Y9, Y8, Y8", "VPERMD Y8, Y12, Y8",
        "VMOVDQU Y8, (DI)", "ADDQ $128, SI", "ADDQ $32, DI", "ADDQ $4, R9", "DECQ R11", "JNZ qa2Conv", "JMP qa2Next")
    e("qa2NonFinite:")
    ins("MOVL $0x7fc00000, (R8)", "JMP qa2Fill")
    e("qa2Zero:")
    ins("MOVL $0, (R8)")
    e("qa2Fill:")
    ins("VPXOR Y5, Y5, Y5", "MOVQ DX, R11", "SHRQ $5, R11")
    e("qa2FillLoop:")
    ins("VMOVDQU Y5, (DI)", "MOVL $0, (R9)", "ADDQ $128, SI", "ADDQ $32, DI", "ADDQ $4, R9", "DECQ R11",
        "JNZ qa2FillLoop")
    e("qa2Next:")
    ins("ADDQ $4, R8", "DECQ CX", "JNZ qa2Block", "VZEROUPPER", "RET")
    e()


def consts():
    def data(name, words):
        for i, w in enumerate(words):
            e(f"DATA {name}<>+{4*i}(SB)/4, ${w:#x}")
        e(f"GLOBL {name}<>(SB), RODATA|NOPTR, ${4*len(words)}")
    data("k0F", [0x0f0f0f0f]*8)
    data("k03", [0x03030303]*8)
    data("k01", [0x01010101]*8)
    data("k08", [0x08080808]*8)
    data("k1w", [0x00010001]*8)
    if J == 1:
        data("kabs", [0x7fffffff]*8)
        data("kf127", [0x42fe0000])
        data("kf1", [0x3f800000])
        data("kperm", [0, 4, 1, 5, 2, 6, 3, 7])


e("//go:build amd64 && !noasm")
e()
e("// Code generated by gen_avx2.py; DO NOT EDIT.")
e()
e('#include "textflag.h"')
e()
q45("dotQ4KAVX2" + suf, False)
if J == 4:
    q4_batch("dotQ4KAVX2x4b")
q45("dotQ5KAVX2" + suf, True)
q6("dotQ6KAVX2" + suf)
q32("dotQ8_0AVX2" + suf, False)
q32("dotQ4_0AVX2" + suf, True)
flt("dotF32AVX2" + (suf or "x1"), "f32")
flt("dotF16AVX2" + (suf or "x1"), "f16")
flt("dotBF16AVX2" + (suf or "x1"), "bf16")
if J == 1:
    quant_act()
consts()
sys.stdout.write("\n".join(out) + "\n")
