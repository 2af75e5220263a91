//go:build amd64 && !purego

#include "textflag.h"

// func adadeltaAVX2(wp, gp, vp, up *float32, n int, c *[5]float32, bad *[8]float32)
TEXT ·adadeltaAVX2(SB), NOSPLIT, $0-56
	MOVQ wp+0(FP), AX
	MOVQ gp+8(FP), BX
	MOVQ vp+16(FP), CX
	MOVQ up+24(FP), DX
	MOVQ n+32(FP), SI
	MOVQ c+40(FP), DI
	VBROADCASTSS 0(DI), Y10  // lr
	VBROADCASTSS 4(DI), Y11  // rho
	VBROADCASTSS 8(DI), Y12  // 1-rho
	VBROADCASTSS 12(DI), Y13 // eps
	VBROADCASTSS 16(DI), Y14 // weight decay
	VXORPS Y15, Y15, Y15     // 0
	VXORPS Y9, Y9, Y9        // Σ w·0
loop:
	VMOVUPS (BX), Y0         // g
	VMOVUPS (AX), Y1         // w
	VFMADD231PS Y14, Y1, Y0  // g += wd·w
	VMOVUPS (CX), Y2         // v
	VMULPS Y11, Y2, Y2       // v = rho·v
	VMULPS Y0, Y0, Y3        // g²
	VFMADD231PS Y12, Y3, Y2  // v += (1-rho)·g²
	VMOVUPS Y2, (CX)
	VADDPS Y13, Y2, Y4       // v+eps
	VMOVUPS (DX), Y5         // u
	VADDPS Y13, Y5, Y6       // u+eps
	VDIVPS Y4, Y6, Y6        // (u+eps)/(v+eps)
	VSQRTPS Y6, Y6           // √((u+eps)/(v+eps))
	VMULPS Y0, Y6, Y6        // d
	VMULPS Y11, Y5, Y5       // u = rho·u
	VMULPS Y6, Y6, Y7        // d²
	VFMADD231PS Y12, Y7, Y5  // u += (1-rho)·d²
	VMOVUPS Y5, (DX)
	VFNMADD231PS Y10, Y6, Y1 // w -= lr·d
	VMOVUPS Y1, (AX)
	VMULPS Y15, Y1, Y8       // w·0: NaN for a non-finite w
	VADDPS Y8, Y9, Y9
	VMOVUPS Y15, (BX)        // g = 0
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, CX
	ADDQ $32, DX
	SUBQ $8, SI
	JNZ loop
	MOVQ bad+48(FP), DI
	VMOVUPS Y9, (DI)
	VZEROUPPER
	RET

// func addAVX2(dst, src *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CMPQ CX, $32
	JLT single
quad:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE quad
single:
	TESTQ CX, CX
	JZ done
one:
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ one
done:
	VZEROUPPER
	RET

// func mulAVX2(dst, a, b *float32, n int)
TEXT ·mulAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JLT msingle
mquad:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMULPS (DX), Y0, Y0
	VMULPS 32(DX), Y1, Y1
	VMULPS 64(DX), Y2, Y2
	VMULPS 96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	ADDQ $128, DX
	SUBQ $32, CX
	CMPQ CX, $32
	JGE mquad
msingle:
	TESTQ CX, CX
	JZ mdone
mone:
	VMOVUPS (SI), Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ mone
mdone:
	VZEROUPPER
	RET

// func poolGradAVX2(d0, d1, d2, d3, x0, x1, x2, x3, gp *float32, n int, floor float32)
//
// For each of n lanes (n a multiple of 8): m = max(x0, x1, x2, x3); the
// gradient g, kept where m > floor, goes to the first of x0..x3 equal to
// m, and 0 to the others.
TEXT ·poolGradAVX2(SB), NOSPLIT, $0-84
	MOVQ d0+0(FP), DI
	MOVQ d1+8(FP), R8
	MOVQ d2+16(FP), R9
	MOVQ d3+24(FP), R10
	MOVQ x0+32(FP), SI
	MOVQ x1+40(FP), R11
	MOVQ x2+48(FP), R12
	MOVQ x3+56(FP), R13
	MOVQ gp+64(FP), DX
	MOVQ n+72(FP), CX
	VBROADCASTSS floor+80(FP), Y13
	VPCMPEQD Y14, Y14, Y14 // all ones
	XORQ AX, AX
	SHLQ $2, CX            // bytes
	TESTQ CX, CX
	JZ pdone
ploop:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS (R11)(AX*1), Y1
	VMOVUPS (R12)(AX*1), Y2
	VMOVUPS (R13)(AX*1), Y3
	VMAXPS Y1, Y0, Y4
	VMAXPS Y3, Y2, Y5
	VMAXPS Y5, Y4, Y4          // m
	VCMPPS $0x1e, Y13, Y4, Y6  // keep = m > floor
	VANDPS (DX)(AX*1), Y6, Y6  // g, kept
	VCMPPS $0, Y4, Y0, Y7      // e0 = x0 == m
	VCMPPS $0, Y4, Y1, Y8      // x1 == m
	VANDNPS Y8, Y7, Y8         // e1 = ~e0 & (x1 == m)
	VORPS Y7, Y8, Y9           // e0 | e1
	VCMPPS $0, Y4, Y2, Y10     // x2 == m
	VANDNPS Y10, Y9, Y10       // e2 = ~(e0|e1) & (x2 == m)
	VORPS Y9, Y10, Y9          // e0 | e1 | e2
	VANDNPS Y14, Y9, Y11       // e3 = ~(e0|e1|e2)
	VANDPS Y6, Y7, Y7
	VANDPS Y6, Y8, Y8
	VANDPS Y6, Y10, Y10
	VANDPS Y6, Y11, Y11
	VMOVUPS Y7, (DI)(AX*1)
	VMOVUPS Y8, (R8)(AX*1)
	VMOVUPS Y10, (R9)(AX*1)
	VMOVUPS Y11, (R10)(AX*1)
	ADDQ $32, AX
	CMPQ AX, CX
	JLT ploop
pdone:
	VZEROUPPER
	RET

// func reluAVX2(dst, src *float32, n int) (exp uint32)
//
// dst = max(src, +0) on n values (n a multiple of 8); returns the largest
// exponent field (bits & 0x7f800000) of src: 0x7f800000 when a value is
// a NaN or an infinity.
TEXT ·reluAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPS Y15, Y15, Y15      // +0
	VPXOR Y9, Y9, Y9          // largest exponent by lane
	MOVL $0x7f800000, AX
	MOVD AX, X14
	VPBROADCASTD X14, Y14     // exponent mask
	XORQ AX, AX
	SHLQ $2, CX
	TESTQ CX, CX
	JZ rdone
rloop:
	VMOVUPS (SI)(AX*1), Y0
	VPAND Y14, Y0, Y1
	VPMAXUD Y1, Y9, Y9
	VMAXPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, CX
	JLT rloop
rdone:
	VEXTRACTI128 $1, Y9, X1
	VPMAXUD X1, X9, X9
	VPSHUFD $0x4e, X9, X1
	VPMAXUD X1, X9, X9
	VPSHUFD $0xb1, X9, X1
	VPMAXUD X1, X9, X9
	MOVD X9, AX
	MOVL AX, exp+24(FP)
	VZEROUPPER
	RET

// func poolAVX2(dst, x0, x1, x2, x3, bias *float32, n int, floor float32) (bad uint32)
//
// dst = max(max(x0, x1, x2, x3) + bias, floor) on n values (n a multiple
// of 8; no bias when bias is nil); returns a lane mask, not 0 when an
// input was a NaN or an infinity (each input times 0, summed per input:
// NaN for a non-finite one).
TEXT ·poolAVX2(SB), NOSPLIT, $0-68
	MOVQ dst+0(FP), DI
	MOVQ x0+8(FP), SI
	MOVQ x1+16(FP), R8
	MOVQ x2+24(FP), R9
	MOVQ x3+32(FP), R10
	MOVQ bias+40(FP), BX
	MOVQ n+48(FP), CX
	VBROADCASTSS floor+56(FP), Y13
	VXORPS Y10, Y10, Y10 // 0
	VXORPS Y6, Y6, Y6    // Σ x0·0
	VXORPS Y7, Y7, Y7    // Σ x1·0
	VXORPS Y8, Y8, Y8    // Σ x2·0
	VXORPS Y9, Y9, Y9    // Σ x3·0
	XORQ AX, AX
	SHLQ $2, CX
	TESTQ CX, CX
	JZ mdone
mloop:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS (R8)(AX*1), Y1
	VMOVUPS (R9)(AX*1), Y2
	VMOVUPS (R10)(AX*1), Y3
	VFMADD231PS Y10, Y0, Y6
	VFMADD231PS Y10, Y1, Y7
	VFMADD231PS Y10, Y2, Y8
	VFMADD231PS Y10, Y3, Y9
	VMAXPS Y1, Y0, Y4
	VMAXPS Y3, Y2, Y5
	VMAXPS Y5, Y4, Y4
	TESTQ BX, BX
	JZ nobias
	VADDPS (BX)(AX*1), Y4, Y4
nobias:
	VMAXPS Y13, Y4, Y4
	VMOVUPS Y4, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, CX
	JLT mloop
mdone:
	VADDPS Y7, Y6, Y6
	VADDPS Y9, Y8, Y8
	VADDPS Y8, Y6, Y6
	VCMPPS $3, Y6, Y6, Y6 // unordered: NaN
	VMOVMSKPS Y6, AX
	MOVL AX, bad+64(FP)
	VZEROUPPER
	RET

// func reluGradAVX2(out, y, gp *float32, n int)
//
// out = g where the bits of y, as a signed integer, are above 0 (y > 0,
// or a NaN of sign 0), else 0, on n values (n a multiple of 8), two
// vectors a turn when n allows.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ gp+16(FP), DX
	MOVQ n+24(FP), CX
	VPXOR Y15, Y15, Y15
	SHLQ $2, CX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-64, BX             // bytes done two vectors a turn
	JZ gtail
gloop2:
	VMOVDQU (SI)(AX*1), Y0
	VMOVDQU 32(SI)(AX*1), Y1
	VPCMPGTD Y15, Y0, Y0
	VPCMPGTD Y15, Y1, Y1
	VPAND (DX)(AX*1), Y0, Y0
	VPAND 32(DX)(AX*1), Y1, Y1
	VMOVDQU Y0, (DI)(AX*1)
	VMOVDQU Y1, 32(DI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, BX
	JLT gloop2
gtail:
	CMPQ AX, CX
	JGE gdone
	VMOVDQU (SI)(AX*1), Y0
	VPCMPGTD Y15, Y0, Y0
	VPAND (DX)(AX*1), Y0, Y0
	VMOVDQU Y0, (DI)(AX*1)
gdone:
	VZEROUPPER
	RET

// func transposeAVX2(dst, src *float32, rows, cols int)
//
// dst (cols×rows) = the transpose of src (rows×cols), both row-major, rows
// and cols multiples of 8: 8×8 blocks, each loaded as eight rows, turned by
// unpack, shuffle and lane permutes, stored as eight rows of dst.
TEXT ·transposeAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ cols+24(FP), R9
	MOVQ R9, R10
	SHLQ $2, R10              // src row stride in bytes
	MOVQ R8, R11
	SHLQ $2, R11              // dst row stride in bytes
	XORQ R12, R12             // r0
trow:
	CMPQ R12, R8
	JGE tdone
	XORQ R13, R13             // c0
tcol:
	CMPQ R13, R9
	JGE tnextrow
	MOVQ R12, AX
	IMULQ R9, AX
	ADDQ R13, AX
	LEAQ (SI)(AX*4), BX       // &src[r0*cols+c0]
	VMOVUPS (BX), Y0
	ADDQ R10, BX
	VMOVUPS (BX), Y1
	ADDQ R10, BX
	VMOVUPS (BX), Y2
	ADDQ R10, BX
	VMOVUPS (BX), Y3
	ADDQ R10, BX
	VMOVUPS (BX), Y4
	ADDQ R10, BX
	VMOVUPS (BX), Y5
	ADDQ R10, BX
	VMOVUPS (BX), Y6
	ADDQ R10, BX
	VMOVUPS (BX), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ R13, AX
	IMULQ R8, AX
	ADDQ R12, AX
	LEAQ (DI)(AX*4), BX       // &dst[c0*rows+r0]
	VMOVUPS Y8, (BX)
	ADDQ R11, BX
	VMOVUPS Y9, (BX)
	ADDQ R11, BX
	VMOVUPS Y10, (BX)
	ADDQ R11, BX
	VMOVUPS Y11, (BX)
	ADDQ R11, BX
	VMOVUPS Y12, (BX)
	ADDQ R11, BX
	VMOVUPS Y13, (BX)
	ADDQ R11, BX
	VMOVUPS Y14, (BX)
	ADDQ R11, BX
	VMOVUPS Y15, (BX)
	ADDQ $8, R13
	JMP tcol
tnextrow:
	ADDQ $8, R12
	JMP trow
tdone:
	VZEROUPPER
	RET
