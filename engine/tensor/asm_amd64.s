//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 (F, BW, VL, VNNI) kernels for the float types and the 32-weight
// block types (the K-quants are in the generated asmk*_amd64.s). Q8_0/Q4_0
// weights are made unsigned with VPABSB/VPSIGNB and fed to VPDPBUSD against
// the int8 activations; each block is folded into a float accumulator, so
// only one horizontal sum happens per row.

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

// func dotQ8_0AVX512(row *byte, qs *int8, d *float32, nb int) float32
TEXT ·dotQ8_0AVX512(SB), NOSPLIT, $0-36
	MOVQ row+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ nb+24(FP), CX
	VXORPS Y0, Y0, Y0
q8loop:
	VMOVDQU 2(SI), Y1
	VPABSB Y1, Y3
	VMOVDQU (DI), Y2
	VPSIGNB Y1, Y2, Y4
	VPXOR Y5, Y5, Y5
	VPDPBUSD Y4, Y3, Y5
	VCVTDQ2PS Y5, Y5
	F16XD(0, X6)
	VBROADCASTSS X6, Y6
	VFMADD231PS Y5, Y6, Y0
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ CX
	JNZ q8loop
	HSUMY(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func dotQ4_0AVX512(row *byte, qs *int8, d *float32, nb int) float32
TEXT ·dotQ4_0AVX512(SB), NOSPLIT, $0-36
	MOVQ row+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ nb+24(FP), CX
	VXORPS Y0, Y0, Y0
	VPBROADCASTD bytes0F<>(SB), Y10
	VPBROADCASTD bytes08<>(SB), Y11
q40loop:
	VMOVDQU 2(SI), X1
	VPSRLW $4, X1, X2
	VINSERTI128 $1, X2, Y1, Y1
	VPAND Y10, Y1, Y1
	VPSUBB Y11, Y1, Y1
	VPABSB Y1, Y3
	VMOVDQU (DI), Y2
	VPSIGNB Y1, Y2, Y4
	VPXOR Y5, Y5, Y5
	VPDPBUSD Y4, Y3, Y5
	VCVTDQ2PS Y5, Y5
	F16XD(0, X6)
	VBROADCASTSS X6, Y6
	VFMADD231PS Y5, Y6, Y0
	ADDQ $18, SI
	ADDQ $32, DI
	ADDQ $4, R8
	DECQ CX
	JNZ q40loop
	HSUMY(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

DATA bytes0F<>+0(SB)/4, $0xf0f0f0f
GLOBL bytes0F<>(SB), RODATA|NOPTR, $4
DATA bytes08<>+0(SB)/4, $0x8080808
GLOBL bytes08<>(SB), RODATA|NOPTR, $4
