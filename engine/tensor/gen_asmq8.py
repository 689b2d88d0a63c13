# Generates asmq8{1,4}_amd64.s: Q8_0/Q4_0 kernels over J activations, two
# 32-weight blocks per step in one 512-bit register.
import sys
out = []
def e(s=""): out.append(s)

def hsum(j, tmpy="Y14", tmpx="X14"):
    z, y, x = f"Z{j}", f"Y{j}", f"X{j}"
    return [f"VEXTRACTF64X4 $1, {z}, {tmpy}", f"VADDPS {tmpy}, {y}, {y}",
            f"VEXTRACTF128 $1, {y}, {tmpx}", f"VADDPS {tmpx}, {x}, {x}",
            f"VMOVHLPS {x}, {x}, {tmpx}", f"VADDPS {tmpx}, {x}, {x}",
            f"VPSHUFD $1, {x}, {tmpx}", f"VADDSS {tmpx}, {x}, {x}"]

# Prefetch distance of the many-row kernels, in bytes of weights ahead.
# Their rows are consecutive, so this runs ahead into the next rows and
# across page boundaries, where the hardware prefetchers stop. Measured on
# the 2-core Zen 5 target (Q8_0 decode, per-thread CPU time): 1 KiB slower
# than none, 4 KiB +10%, 8 KiB +25%, 16 KiB +32%, 32 KiB +29%.
PF = 16384


def kernel(name, J, q4, rows=False):
    bb = 18 if q4 else 34
    if rows and J > 1:
        e(f"// func {name}(row *byte, qs *int8, d *float32, npairs, nrows int, out *float32, ostride int)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-56")
    elif rows:
        e(f"// func {name}(row *byte, qs *int8, d *float32, npairs, nrows int, out *float32)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-48")
    elif J == 1:
        e(f"// func {name}(row *byte, qs *int8, d *float32, npairs int) float32")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-36")
    else:
        e(f"// func {name}(row *byte, qs *int8, d *float32, npairs int, out *float32)")
        e(f"TEXT ·{name}(SB), NOSPLIT, $0-40")
    for l in ["MOVQ row+0(FP), SI", "MOVQ qs+8(FP), DI", "MOVQ d+16(FP), R8", "MOVQ npairs+24(FP), CX"]:
        e("\t" + l)
    for j in range(J):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e("\tVPXORD Z31, Z31, Z31")
    e("\tVMOVDQU64 pairidx<>(SB), Z30")
    if q4:
        e("\tVPBROADCASTD q0F<>(SB), Z29")
        e("\tVPBROADCASTD q08<>(SB), Z27")
    if rows:
        # consecutive rows: SI runs on from one row into the next
        e("\tMOVQ nrows+32(FP), R13")
        e("\tMOVQ out+40(FP), R12")
        e(f"{name}_row:")
        for l in ["MOVQ qs+8(FP), DI", "MOVQ d+16(FP), R8", "MOVQ npairs+24(FP), CX"]:
            e("\t" + l)
        for j in range(J):
            e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop:")
    if rows:
        e(f"\tPREFETCHT0 {PF}(SI)")
    # weights of blocks 2p and 2p+1 as signed bytes in Z8
    if q4:
        e("\tVMOVDQU 2(SI), X8")
        e(f"\tVINSERTI128 $1, {bb+2}(SI), Y8, Y8")
        e("\tVPSRLW $4, Y8, Y9")
        e("\tVINSERTI64X4 $1, Y9, Z8, Z8")
        e("\tVSHUFI64X2 $0xd8, Z8, Z8, Z8")
        e("\tVPANDD Z29, Z8, Z8")
        e("\tVPSUBB Z27, Z8, Z8")
    else:
        e("\tVMOVDQU 2(SI), Y8")
        e(f"\tVINSERTI64X4 $1, {bb+2}(SI), Z8, Z8")
    e("\tVPMOVB2M Z8, K1")
    e("\tVPABSB Z8, Z9")
    # the two weight scales as floats in X10 lanes 0 and 1
    e("\tMOVWLZX (SI), AX")
    e(f"\tMOVWLZX {bb}(SI), BX")
    e("\tVMOVD AX, X10")
    e("\tVPINSRW $1, BX, X10, X10")
    e("\tVCVTPH2PS X10, X10")
    for j in range(J):
        e(f"\tVMOVDQU64 {64*j}(DI), Z11")
        e("\tVPSUBB Z11, Z31, K1, Z11")
        e("\tVPXORD Z12, Z12, Z12")
        e("\tVPDPBUSD Z11, Z9, Z12")
        e("\tVCVTDQ2PS Z12, Z12")
        e(f"\tVMOVQ {8*j}(R8), X13")
        e("\tVMULPS X13, X10, X13")
        e("\tVPERMPS Z13, Z30, Z13")
        # ggml's order: eight lanes, block 2p then block 2p+1
        e(f"\tVFMADD231PS Y12, Y13, Y{j}")
        e("\tVEXTRACTF64X4 $1, Z12, Y14")
        e("\tVEXTRACTF64X4 $1, Z13, Y15")
        e(f"\tVFMADD231PS Y14, Y15, Y{j}")
    e(f"\tADDQ ${2*bb}, SI")
    e(f"\tADDQ ${64*J}, DI")
    e(f"\tADDQ ${8*J}, R8")
    e("\tDECQ CX")
    e(f"\tJNZ {name}_loop")
    if J > 1 and not rows:
        e("\tMOVQ out+32(FP), DI")
    if J > 1 and rows:
        # activation j's sum goes to out[j*ostride]
        e("\tMOVQ ostride+48(FP), AX")
        e("\tSHLQ $2, AX")
        e("\tLEAQ (R12)(AX*2), BX")
    for j in range(J):
        for l in hsum(j):
            e("\t" + l)
        if rows and J > 1:
            e("\t" + ["VMOVSS X0, (R12)", "VMOVSS X1, (R12)(AX*1)", "VMOVSS X2, (BX)", "VMOVSS X3, (BX)(AX*1)"][j])
            if j == J - 1:
                for l in ["ADDQ $4, R12", "DECQ R13", f"JNZ {name}_row"]:
                    e("\t" + l)
        elif rows:
            for l in ["VMOVSS X0, (R12)", "ADDQ $4, R12", "DECQ R13", f"JNZ {name}_row"]:
                e("\t" + l)
        else:
            e(f"\tVMOVSS X{j}, {4*j}(DI)" if J > 1 else "\tVMOVSS X0, ret+32(FP)")
    e("\tVZEROUPPER")
    e("\tRET")
    e("")

def q8pairs(name, J):
    # Q8_0 weights two rows at a time against J activations: each 512-bit
    # step holds block k of row r in its low half and block k of row r+1 in
    # its high half, so a block costs one VPDPBUSD, one convert, one scale
    # and one full-width FMA per activation, and every float lane still
    # sums its row's blocks one after another as ggml does (no extracts, no
    # second FMA). The activations come packed per group (act.q8pack):
    # per block, J×32 int8s, J×8 int32 biases (-128 × each lane's four
    # int8s, cancelling the sign flip that makes the weights unsigned) and J
    # float32 scales; the int8s and biases are broadcast into both halves.
    # A stride of 0 reads one row twice (the odd row at the end of a tile).
    e(f"// func {name}(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)")
    e(f"TEXT ·{name}(SB), NOSPLIT, $0-56")
    for l in ["MOVQ row+0(FP), R14", "MOVQ stride+8(FP), R10", "MOVQ npairs+32(FP), R13",
              "MOVQ out+40(FP), R12", "MOVQ ostride+48(FP), R11", "SHLQ $2, R11",
              "VPBROADCASTD q80<>(SB), Z31", "MOVL $0xff00, AX", "KMOVW AX, K2"]:
        e("\t" + l)
    e(f"{name}_pair:")
    for l in ["MOVQ R14, SI", "LEAQ (R14)(R10*1), R9", "MOVQ grp+16(FP), DI", "MOVQ nblocks+24(FP), CX"]:
        e("\t" + l)
    for j in range(J):
        e(f"\tVXORPS Z{j}, Z{j}, Z{j}")
    e(f"{name}_loop:")
    for l in [f"PREFETCHT0 {PF}(SI)", f"PREFETCHT0 {PF}(R9)",
              "VMOVDQU 2(SI), Y8", "VINSERTI64X4 $1, 2(R9), Z8, Z8", "VPXORD Z31, Z8, Z8",
              "VPBROADCASTW (SI), Y10", "VPBROADCASTW (R9), K2, Y10", "VCVTPH2PS Y10, Z10"]:
        e("\t" + l)
    for j in range(J):
        t11, t12, t13 = (f"Z{16+3*(j%5)}", f"Z{17+3*(j%5)}", f"Z{18+3*(j%5)}")
        for l in [f"VBROADCASTI64X4 {32*J+32*j}(DI), {t12}", f"VBROADCASTI64X4 {32*j}(DI), {t11}",
                  f"VPDPBUSD {t11}, Z8, {t12}", f"VCVTDQ2PS {t12}, {t12}",
                  f"VMULPS.BCST {64*J+4*j}(DI), Z10, {t13}", f"VFMADD231PS {t12}, {t13}, Z{j}"]:
            e("\t" + l)
    for l in ["ADDQ $34, SI", "ADDQ $34, R9", f"ADDQ ${68*J}, DI", "DECQ CX", f"JNZ {name}_loop"]:
        e("\t" + l)
    e("\tMOVQ R12, BX")
    for j in range(J):
        # row r: lanes 0-7, summed as ggml's hsum_float_8; row r+1: 8-15
        for half, dst in ((None, "0(BX)"), ("Y15", "4(BX)")):
            y, x = f"Y{j}", f"X{j}"
            if half:
                e(f"\tVEXTRACTF64X4 $1, Z{j}, Y15")
                y, x = "Y15", "X15"
            for l in [f"VEXTRACTF128 $1, {y}, X14", f"VADDPS X14, {x}, X14",
                      "VMOVHLPS X14, X14, X13", "VADDPS X13, X14, X14",
                      "VPSHUFD $1, X14, X13", "VADDSS X13, X14, X14", f"VMOVSS X14, {dst}"]:
                e("\t" + l)
        e("\tADDQ R11, BX")
    for l in ["ADDQ $8, R12", "LEAQ (R14)(R10*2), R14", "DECQ R13", f"JNZ {name}_pair", "VZEROUPPER", "RET"]:
        e("\t" + l)
    e("")

J = int(sys.argv[1])
suf = "" if J == 1 else "x%d" % J
e("//go:build amd64 && !noasm")
e("")
e("// Code generated by gen_asmq8.py; DO NOT EDIT.")
e("")
e('#include "textflag.h"')
e("")
e("// Q8_0/Q4_0 kernels: two 32-weight blocks per 512-bit step against J")
e("// activations packed 64 int8s (and two scales) at a time. The weights are")
e("// made unsigned with VPABSB and their signs moved onto the activations")
e("// with a masked negate, then VPDPBUSD; each block's int32 lanes are scaled")
e("// by weight scale × activation scale in float and added into eight float")
e("// lanes block after block, the order ggml sums Q8_0 dot products in.")
e("")
if J == 1:
    # Single Q8_0 dot products; MatMul takes Q8_0 through the pairs kernels.
    kernel("dotQ8_0VNNI", J, False)
kernel("dotQ4_0VNNI" + suf, J, True)
if J == 1:
    kernel("dotQ4_0VNNIrows", 1, True, rows=True)
else:
    kernel("dotQ4_0VNNIx4rows", J, True, rows=True)
    for j in range(1, 9):
        q8pairs(f"dotQ8_0VNNIpairs{j}", j)
for i, v in enumerate([0]*8 + [1]*8):
    e(f"DATA pairidx<>+{4*i}(SB)/4, ${v}")
e("GLOBL pairidx<>(SB), RODATA|NOPTR, $64")
e("DATA q0F<>+0(SB)/4, $0x0f0f0f0f")
e("GLOBL q0F<>(SB), RODATA|NOPTR, $4")
e("DATA q80<>+0(SB)/4, $0x80808080")
e("GLOBL q80<>(SB), RODATA|NOPTR, $4")
e("DATA q08<>+0(SB)/4, $0x08080808")
e("GLOBL q08<>(SB), RODATA|NOPTR, $4")
sys.stdout.write("\n".join(out) + "\n")
