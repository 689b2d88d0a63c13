//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels for the float types and the activation quantizer; the
// quantized dot products are generated (asmk*_amd64.s, asmq8*_amd64.s).

// f16 scale at off(SI) times the activation scale at (R8) -> X reg.
#define F16XD(off, x) MOVWLZX off(SI), AX; VMOVD AX, x; VCVTPH2PS x, x; VMULSS (R8), x, x

// Horizontal sum of Z register z (low halves y, x) into x, using ty/tx.
#define HSUMZ(z, y, x, ty, tx) VEXTRACTF64X4 $1, z, ty; VADDPS ty, y, y; VEXTRACTF128 $1, y, tx; VADDPS tx, x, x; VMOVHLPS x, x, tx; VADDPS tx, x, x; VPSHUFD $1, x, tx; VADDSS tx, x, x

#define HSUMY(y, x, tx) VEXTRACTF128 $1, y, tx; VADDPS tx, x, x; VMOVHLPS x, x, tx; VADDPS tx, x, x; VPSHUFD $1, x, tx; VADDSS tx, x, x

// func dotF32AVX512(a, b *float32, n int) float32   (n multiple of 16)
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
f32loop64:
	CMPQ CX, $64
	JLT f32loop16
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP f32loop64
f32loop16:
	CMPQ CX, $16
	JLT f32done
	VMOVUPS (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP f32loop16
f32done:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUMZ(Z0, Y0, X0, Y1, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16AVX512(a *uint16, b *float32, n int) float32   (n multiple of 16)
TEXT ·dotF16AVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
f16loop32:
	CMPQ CX, $32
	JLT f16loop16
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP f16loop32
f16loop16:
	CMPQ CX, $16
	JLT f16done
	VCVTPH2PS (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP f16loop16
f16done:
	VADDPS Z1, Z0, Z0
	HSUMZ(Z0, Y0, X0, Y1, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16AVX512(a *uint16, b *float32, n int) float32   (n multiple of 16)
TEXT ·dotBF16AVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Z0, Z0, Z0
bf16loop:
	CMPQ CX, $16
	JLT bf16done
	VPMOVZXWD (SI), Z4
	VPSLLD $16, Z4, Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP bf16loop
bf16done:
	HSUMZ(Z0, Y0, X0, Y1, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func quantActAVX512(x *float32, q *int8, d *float32, bs *int16, nb, blk int)
// Rounds nb blocks of blk floats (blk a multiple of 16) to int8 with scale
// amax/127 per block (1/(127/amax) when blk is 256, see quantAct), and writes the sum of every 16 int8s to bs. The
// block maximum is taken on the absolute values' bit patterns as unsigned
// integers, which orders finite values, then Inf, then NaN, so a
// non-finite block is detected reliably and gets scale NaN and zero q; a
// block below actTiny gets scale 0 and zero q.
TEXT ·quantActAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ bs+24(FP), R9
	MOVQ nb+32(FP), CX
	MOVQ blk+40(FP), DX
	SHRQ $4, DX
	VPBROADCASTD absmask<>(SB), Z10
	VBROADCASTSS f127<>(SB), X11
	VBROADCASTSS f1<>(SB), X12
qaBlock:
	VPXORD Z1, Z1, Z1
	MOVQ SI, R10
	MOVQ DX, R11
qaMax:
	VPANDD (R10), Z10, Z2
	VPMAXUD Z2, Z1, Z1
	ADDQ $64, R10
	DECQ R11
	JNZ qaMax
	VEXTRACTI64X4 $1, Z1, Y2
	VPMAXUD Y2, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPMAXUD X2, X1, X1
	VPSHUFD $0x4e, X1, X2
	VPMAXUD X2, X1, X1
	VPSHUFD $1, X1, X2
	VPMAXUD X2, X1, X1
	VMOVD X1, AX
	CMPL AX, $0x7f800000
	JAE qaNonFinite
	CMPL AX, $0x0da24260 // actTiny = 1e-30
	JB qaZero
	VDIVSS X1, X11, X3
	VDIVSS X11, X1, X4
	CMPQ DX, $16
	JNE qaScale
	VDIVSS X3, X12, X4 // K blocks: 1/(127/amax), as block_q8_K stores it
qaScale:
	VMOVSS X4, (R8)
	VBROADCASTSS X3, Z3
	MOVQ DX, R11
qaConv:
	VMULPS (SI), Z3, Z4
	VCVTPS2DQ Z4, Z4
	VPMOVSDB Z4, (DI)
	VEXTRACTI64X4 $1, Z4, Y6
	VPADDD Y6, Y4, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD X7, X6, X6
	VPSHUFD $0x4e, X6, X7
	VPADDD X7, X6, X6
	VPSHUFD $1, X6, X7
	VPADDD X7, X6, X6
	VMOVD X6, AX
	MOVW AX, (R9)
	ADDQ $64, SI
	ADDQ $16, DI
	ADDQ $2, R9
	DECQ R11
	JNZ qaConv
	JMP qaNext
qaNonFinite:
	MOVL $0x7fc00000, (R8)
	JMP qaFill
qaZero:
	MOVL $0, (R8)
qaFill:
	VPXORD X5, X5, X5
	MOVQ DX, R11
qaFillLoop:
	VMOVDQU X5, (DI)
	MOVW $0, (R9)
	ADDQ $64, SI
	ADDQ $16, DI
	ADDQ $2, R9
	DECQ R11
	JNZ qaFillLoop
qaNext:
	ADDQ $4, R8
	DECQ CX
	JNZ qaBlock
	VZEROUPPER
	RET

DATA absmask<>+0(SB)/4, $0x7fffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $4
DATA f127<>+0(SB)/4, $0x42fe0000
GLOBL f127<>(SB), RODATA|NOPTR, $4
DATA f1<>+0(SB)/4, $0x3f800000
GLOBL f1<>(SB), RODATA|NOPTR, $4

// func roundF16AVX512(x, dst *float32, n int)
// dst[i] = x[i] rounded to float16 and back (nearest even, as ggml's
// fp32→fp16 conversion), for n a multiple of 16.
TEXT ·roundF16AVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
r16loop:
	VMOVUPS (SI), Z0
	VCVTPS2PH $0, Z0, Y1
	VCVTPH2PS Y1, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ r16loop
	VZEROUPPER
	RET

// func roundF16AVX2(x, dst *float32, n int)
// roundF16AVX512 for CPUs with AVX2 and F16C; n a multiple of 8.
TEXT ·roundF16AVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
r8loop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VCVTPH2PS X1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ r8loop
	VZEROUPPER
	RET

// func f16sAVX512(src *byte, dst *float32, n int)
// Converts n little-endian float16 values to float32; n a multiple of 16.
TEXT ·f16sAVX512(SB), NOSPLIT, $0-24
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
h16loop:
	VCVTPH2PS (SI), Z0
	VMOVUPS Z0, (DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ h16loop
	VZEROUPPER
	RET

// func f16sAVX2(src *byte, dst *float32, n int)
// f16sAVX512 for CPUs with AVX2 and F16C; n a multiple of 8.
TEXT ·f16sAVX2(SB), NOSPLIT, $0-24
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
h8loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ h8loop
	VZEROUPPER
	RET
