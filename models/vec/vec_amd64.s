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
	VSQRTPS Y4, Y4
	VMOVUPS (DX), Y5         // u
	VADDPS Y13, Y5, Y6       // u+eps
	VSQRTPS Y6, Y6
	VDIVPS Y4, Y6, Y6        // √(u+eps)/√(v+eps)
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
