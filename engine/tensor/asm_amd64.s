//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 (F, BW, VL, VNNI) kernels. Weights are unsigned or sign-fixed
// bytes fed to VPDPBUSD against int8 activations; per-sub-block scales are
// applied in int32 (VPMULLD) and each super-block is folded into a float
// accumulator once, so only one horizontal sum happens per row.

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

// Unpack the 12-byte K-quant scales at 4(SI) into eight 6-bit scales (AX,
// one per byte) and eight mins (BX). Clobbers DX, R10, R11.
#define KSCALES \
	MOVL 4(SI), DX; MOVL 8(SI), R10; MOVL 12(SI), R11; \
	MOVL R11, AX; ANDL $0x0f0f0f0f, AX; MOVL DX, BX; SHRL $6, BX; ANDL $0x03030303, BX; SHLL $4, BX; ORL BX, AX; SHLQ $32, AX; \
	MOVL DX, BX; ANDL $0x3f3f3f3f, BX; ORQ BX, AX; \
	SHRL $4, R11; ANDL $0x0f0f0f0f, R11; MOVL R10, BX; SHRL $6, BX; ANDL $0x03030303, BX; SHLL $4, BX; ORL R11, BX; SHLQ $32, BX; \
	ANDL $0x3f3f3f3f, R10; ORQ R10, BX

// Min term of a K-quant block: Y1 += float(m_j * bsum32_j) * dmin*xd.
#define KMINS \
	VMOVQ BX, X3; VPMOVZXBD X3, Y3; \
	VMOVDQU (R9), Y4; VPMADDWD Y12, Y4, Y4; VPMULLD Y3, Y4, Y4; VCVTDQ2PS Y4, Y4; \
	F16XD(2, X5); VBROADCASTSS X5, Y5; VFMADD231PS Y4, Y5, Y1

// One 64-weight chunk: Z7 holds the 64 weight bytes, idx the lane->scale map.
#define KCHUNK(aoff, idx) \
	VPXORD Z9, Z9, Z9; VPDPBUSD aoff(DI), Z7, Z9; VPERMD Z2, idx, Z10; VPMULLD Z10, Z9, Z9; VPADDD Z9, Z6, Z6

// Nibbles of the 32 bytes at off(SI): low nibbles in the low half of Z7,
// high nibbles in the high half.
#define NIBBLES(off) \
	VMOVDQU off(SI), Y7; VPSRLW $4, Y7, Y8; VINSERTI64X4 $1, Y8, Z7, Z7; VPANDD Z31, Z7, Z7

// func dotQ4KAVX512(row *byte, qs *int8, d *float32, bs *int16, nb int) float32
TEXT ·dotQ4KAVX512(SB), NOSPLIT, $0-44
	MOVQ row+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ bs+24(FP), R9
	MOVQ nb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Y1, Y1, Y1
	VPBROADCASTD bytes0F<>(SB), Z31
	VPBROADCASTD words01<>(SB), Y12
	VMOVDQU32 idxK4<>+0(SB), Z30
	VMOVDQU32 idxK4<>+64(SB), Z29
	VMOVDQU32 idxK4<>+128(SB), Z28
	VMOVDQU32 idxK4<>+192(SB), Z27
q4kloop:
	KSCALES
	VMOVQ AX, X2
	VPMOVZXBD X2, Y2
	KMINS
	VPXORD Z6, Z6, Z6
	NIBBLES(16)
	KCHUNK(0, Z30)
	NIBBLES(48)
	KCHUNK(64, Z29)
	NIBBLES(80)
	KCHUNK(128, Z28)
	NIBBLES(112)
	KCHUNK(192, Z27)
	VCVTDQ2PS Z6, Z6
	F16XD(0, X5)
	VBROADCASTSS X5, Z5
	VFMADD231PS Z6, Z5, Z0
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $4, R8
	ADDQ $32, R9
	DECQ CX
	JNZ q4kloop
	HSUMZ(Z0, Y0, X0, Y7, X7)
	HSUMY(Y1, X1, X7)
	VSUBSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// Fifth bits for chunk c: bit 2c of qh (Y13 source) for the low half and
// bit 2c+1 for the high half, moved to bit 4 and ORed into Z7.
#define QH5(s1, s2) \
	VPSRLW $s1, Y13, Y14; VPSRLW $s2, Y13, Y15; VINSERTI64X4 $1, Y15, Z14, Z14; VPANDD Z26, Z14, Z14; VPSLLW $4, Z14, Z14; VPORD Z14, Z7, Z7

// func dotQ5KAVX512(row *byte, qs *int8, d *float32, bs *int16, nb int) float32
TEXT ·dotQ5KAVX512(SB), NOSPLIT, $0-44
	MOVQ row+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ bs+24(FP), R9
	MOVQ nb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Y1, Y1, Y1
	VPBROADCASTD bytes0F<>(SB), Z31
	VPBROADCASTD bytes01<>(SB), Z26
	VPBROADCASTD words01<>(SB), Y12
	VMOVDQU32 idxK4<>+0(SB), Z30
	VMOVDQU32 idxK4<>+64(SB), Z29
	VMOVDQU32 idxK4<>+128(SB), Z28
	VMOVDQU32 idxK4<>+192(SB), Z27
q5kloop:
	KSCALES
	VMOVQ AX, X2
	VPMOVZXBD X2, Y2
	KMINS
	VPXORD Z6, Z6, Z6
	VMOVDQU 16(SI), Y13
	NIBBLES(48)
	QH5(0, 1)
	KCHUNK(0, Z30)
	NIBBLES(80)
	QH5(2, 3)
	KCHUNK(64, Z29)
	NIBBLES(112)
	QH5(4, 5)
	KCHUNK(128, Z28)
	NIBBLES(144)
	QH5(6, 7)
	KCHUNK(192, Z27)
	VCVTDQ2PS Z6, Z6
	F16XD(0, X5)
	VBROADCASTSS X5, Z5
	VFMADD231PS Z6, Z5, Z0
	ADDQ $176, SI
	ADDQ $256, DI
	ADDQ $4, R8
	ADDQ $32, R9
	DECQ CX
	JNZ q5kloop
	HSUMZ(Z0, Y0, X0, Y7, X7)
	HSUMY(Y1, X1, X7)
	VSUBSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// Q6_K half h: 64 bytes of ql at qloff(SI), 32 bytes of qh at qhoff(SI).
// Weights 0..63 of the half are ql&15 | (qh bits 0-1 / 2-3)<<4, weights
// 64..127 are ql>>4 | (qh bits 4-5 / 6-7)<<4.
#define Q6HALF(qloff, qhoff, aoff, idxA, idxB) \
	VMOVDQU64 qloff(SI), Z7; VMOVDQU qhoff(SI), Y8; \
	VPSRLW $2, Y8, Y9; VINSERTI64X4 $1, Y9, Z8, Z10; VPANDD Z26, Z10, Z10; VPSLLW $4, Z10, Z10; \
	VPANDD Z31, Z7, Z11; VPORD Z10, Z11, Z11; \
	VPSRLW $4, Y8, Y9; VPSRLW $6, Y8, Y13; VINSERTI64X4 $1, Y13, Z9, Z12; VPANDD Z26, Z12, Z12; VPSLLW $4, Z12, Z12; \
	VPSRLW $4, Z7, Z13; VPANDD Z31, Z13, Z13; VPORD Z12, Z13, Z13; \
	VPXORD Z14, Z14, Z14; VPDPBUSD aoff(DI), Z11, Z14; VPERMD Z2, idxA, Z15; VPMULLD Z15, Z14, Z14; VPADDD Z14, Z6, Z6; \
	VPXORD Z14, Z14, Z14; VPDPBUSD aoff+64(DI), Z13, Z14; VPERMD Z2, idxB, Z15; VPMULLD Z15, Z14, Z14; VPADDD Z14, Z6, Z6

// func dotQ6KAVX512(row *byte, qs *int8, d *float32, bs *int16, nb int) float32
TEXT ·dotQ6KAVX512(SB), NOSPLIT, $0-44
	MOVQ row+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), R8
	MOVQ bs+24(FP), R9
	MOVQ nb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VPBROADCASTD bytes0F<>(SB), Z31
	VPBROADCASTD bytes03<>(SB), Z26
	VMOVDQU32 idxQ6<>+0(SB), Z30
	VMOVDQU32 idxQ6<>+64(SB), Z29
	VMOVDQU32 idxQ6<>+128(SB), Z28
	VMOVDQU32 idxQ6<>+192(SB), Z27
q6kloop:
	VPMOVSXBD 192(SI), Z2
	VPMOVSXBW 192(SI), Y3
	VMOVDQU (R9), Y4
	VPMADDWD Y4, Y3, Y4
	VPSLLD $5, Y4, Y4
	VPXORD Z6, Z6, Z6
	VPSUBD Z4, Z6, Z6
	Q6HALF(0, 128, 0, Z30, Z29)
	Q6HALF(64, 160, 128, Z28, Z27)
	VCVTDQ2PS Z6, Z6
	F16XD(208, X5)
	VBROADCASTSS X5, Z5
	VFMADD231PS Z6, Z5, Z0
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $4, R8
	ADDQ $32, R9
	DECQ CX
	JNZ q6kloop
	HSUMZ(Z0, Y0, X0, Y7, X7)
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

DATA idxK4<>+0(SB)/4, $0x0
DATA idxK4<>+4(SB)/4, $0x0
DATA idxK4<>+8(SB)/4, $0x0
DATA idxK4<>+12(SB)/4, $0x0
DATA idxK4<>+16(SB)/4, $0x0
DATA idxK4<>+20(SB)/4, $0x0
DATA idxK4<>+24(SB)/4, $0x0
DATA idxK4<>+28(SB)/4, $0x0
DATA idxK4<>+32(SB)/4, $0x1
DATA idxK4<>+36(SB)/4, $0x1
DATA idxK4<>+40(SB)/4, $0x1
DATA idxK4<>+44(SB)/4, $0x1
DATA idxK4<>+48(SB)/4, $0x1
DATA idxK4<>+52(SB)/4, $0x1
DATA idxK4<>+56(SB)/4, $0x1
DATA idxK4<>+60(SB)/4, $0x1
DATA idxK4<>+64(SB)/4, $0x2
DATA idxK4<>+68(SB)/4, $0x2
DATA idxK4<>+72(SB)/4, $0x2
DATA idxK4<>+76(SB)/4, $0x2
DATA idxK4<>+80(SB)/4, $0x2
DATA idxK4<>+84(SB)/4, $0x2
DATA idxK4<>+88(SB)/4, $0x2
DATA idxK4<>+92(SB)/4, $0x2
DATA idxK4<>+96(SB)/4, $0x3
DATA idxK4<>+100(SB)/4, $0x3
DATA idxK4<>+104(SB)/4, $0x3
DATA idxK4<>+108(SB)/4, $0x3
DATA idxK4<>+112(SB)/4, $0x3
DATA idxK4<>+116(SB)/4, $0x3
DATA idxK4<>+120(SB)/4, $0x3
DATA idxK4<>+124(SB)/4, $0x3
DATA idxK4<>+128(SB)/4, $0x4
DATA idxK4<>+132(SB)/4, $0x4
DATA idxK4<>+136(SB)/4, $0x4
DATA idxK4<>+140(SB)/4, $0x4
DATA idxK4<>+144(SB)/4, $0x4
DATA idxK4<>+148(SB)/4, $0x4
DATA idxK4<>+152(SB)/4, $0x4
DATA idxK4<>+156(SB)/4, $0x4
DATA idxK4<>+160(SB)/4, $0x5
DATA idxK4<>+164(SB)/4, $0x5
DATA idxK4<>+168(SB)/4, $0x5
DATA idxK4<>+172(SB)/4, $0x5
DATA idxK4<>+176(SB)/4, $0x5
DATA idxK4<>+180(SB)/4, $0x5
DATA idxK4<>+184(SB)/4, $0x5
DATA idxK4<>+188(SB)/4, $0x5
DATA idxK4<>+192(SB)/4, $0x6
DATA idxK4<>+196(SB)/4, $0x6
DATA idxK4<>+200(SB)/4, $0x6
DATA idxK4<>+204(SB)/4, $0x6
DATA idxK4<>+208(SB)/4, $0x6
DATA idxK4<>+212(SB)/4, $0x6
DATA idxK4<>+216(SB)/4, $0x6
DATA idxK4<>+220(SB)/4, $0x6
DATA idxK4<>+224(SB)/4, $0x7
DATA idxK4<>+228(SB)/4, $0x7
DATA idxK4<>+232(SB)/4, $0x7
DATA idxK4<>+236(SB)/4, $0x7
DATA idxK4<>+240(SB)/4, $0x7
DATA idxK4<>+244(SB)/4, $0x7
DATA idxK4<>+248(SB)/4, $0x7
DATA idxK4<>+252(SB)/4, $0x7
GLOBL idxK4<>(SB), RODATA|NOPTR, $256
DATA idxQ6<>+0(SB)/4, $0x0
DATA idxQ6<>+4(SB)/4, $0x0
DATA idxQ6<>+8(SB)/4, $0x0
DATA idxQ6<>+12(SB)/4, $0x0
DATA idxQ6<>+16(SB)/4, $0x1
DATA idxQ6<>+20(SB)/4, $0x1
DATA idxQ6<>+24(SB)/4, $0x1
DATA idxQ6<>+28(SB)/4, $0x1
DATA idxQ6<>+32(SB)/4, $0x2
DATA idxQ6<>+36(SB)/4, $0x2
DATA idxQ6<>+40(SB)/4, $0x2
DATA idxQ6<>+44(SB)/4, $0x2
DATA idxQ6<>+48(SB)/4, $0x3
DATA idxQ6<>+52(SB)/4, $0x3
DATA idxQ6<>+56(SB)/4, $0x3
DATA idxQ6<>+60(SB)/4, $0x3
DATA idxQ6<>+64(SB)/4, $0x4
DATA idxQ6<>+68(SB)/4, $0x4
DATA idxQ6<>+72(SB)/4, $0x4
DATA idxQ6<>+76(SB)/4, $0x4
DATA idxQ6<>+80(SB)/4, $0x5
DATA idxQ6<>+84(SB)/4, $0x5
DATA idxQ6<>+88(SB)/4, $0x5
DATA idxQ6<>+92(SB)/4, $0x5
DATA idxQ6<>+96(SB)/4, $0x6
DATA idxQ6<>+100(SB)/4, $0x6
DATA idxQ6<>+104(SB)/4, $0x6
DATA idxQ6<>+108(SB)/4, $0x6
DATA idxQ6<>+112(SB)/4, $0x7
DATA idxQ6<>+116(SB)/4, $0x7
DATA idxQ6<>+120(SB)/4, $0x7
DATA idxQ6<>+124(SB)/4, $0x7
DATA idxQ6<>+128(SB)/4, $0x8
DATA idxQ6<>+132(SB)/4, $0x8
DATA idxQ6<>+136(SB)/4, $0x8
DATA idxQ6<>+140(SB)/4, $0x8
DATA idxQ6<>+144(SB)/4, $0x9
DATA idxQ6<>+148(SB)/4, $0x9
DATA idxQ6<>+152(SB)/4, $0x9
DATA idxQ6<>+156(SB)/4, $0x9
DATA idxQ6<>+160(SB)/4, $0xa
DATA idxQ6<>+164(SB)/4, $0xa
DATA idxQ6<>+168(SB)/4, $0xa
DATA idxQ6<>+172(SB)/4, $0xa
DATA idxQ6<>+176(SB)/4, $0xb
DATA idxQ6<>+180(SB)/4, $0xb
DATA idxQ6<>+184(SB)/4, $0xb
DATA idxQ6<>+188(SB)/4, $0xb
DATA idxQ6<>+192(SB)/4, $0xc
DATA idxQ6<>+196(SB)/4, $0xc
DATA idxQ6<>+200(SB)/4, $0xc
DATA idxQ6<>+204(SB)/4, $0xc
DATA idxQ6<>+208(SB)/4, $0xd
DATA idxQ6<>+212(SB)/4, $0xd
DATA idxQ6<>+216(SB)/4, $0xd
DATA idxQ6<>+220(SB)/4, $0xd
DATA idxQ6<>+224(SB)/4, $0xe
DATA idxQ6<>+228(SB)/4, $0xe
DATA idxQ6<>+232(SB)/4, $0xe
DATA idxQ6<>+236(SB)/4, $0xe
DATA idxQ6<>+240(SB)/4, $0xf
DATA idxQ6<>+244(SB)/4, $0xf
DATA idxQ6<>+248(SB)/4, $0xf
DATA idxQ6<>+252(SB)/4, $0xf
GLOBL idxQ6<>(SB), RODATA|NOPTR, $256
DATA bytes0F<>+0(SB)/4, $0xf0f0f0f
GLOBL bytes0F<>(SB), RODATA|NOPTR, $4
DATA bytes03<>+0(SB)/4, $0x3030303
GLOBL bytes03<>(SB), RODATA|NOPTR, $4
DATA bytes01<>+0(SB)/4, $0x1010101
GLOBL bytes01<>(SB), RODATA|NOPTR, $4
DATA bytes08<>+0(SB)/4, $0x8080808
GLOBL bytes08<>(SB), RODATA|NOPTR, $4
DATA words01<>+0(SB)/4, $0x10001
GLOBL words01<>(SB), RODATA|NOPTR, $4
