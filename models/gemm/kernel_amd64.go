//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go

// kernelAVX512 computes one 14×32 tile with AVX-512F (kernel_amd64.s).
//
//go:noescape
func kernelAVX512(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// kernelAVX512x16 computes one 14×16 tile with AVX-512F (kernel_amd64.s).
//
//go:noescape
func kernelAVX512x16(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// kernelAVX2x8 computes one 6×8 tile with AVX2 and FMA (kernel_amd64.s).
//
//go:noescape
func kernelAVX2x8(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// kernelAVX2 computes one 6×16 tile with AVX2 and FMA (kernel_amd64.s).
//
//go:noescape
func kernelAVX2(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// packT14 sets dst[q·ldd+i] = src[i·ld+q] for i < 14 and q < kc with
// AVX-512 16×16 transposes in registers (kernel_amd64.s).
//
//go:noescape
func packT14(dst, src *float32, ld, kc, ldd int)

// kernelAVX512m8 computes one 8×32 tile with AVX-512F (kernel_amd64.s).
//
//go:noescape
func kernelAVX512m8(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// kernelAVX512m8x16 computes one 8×16 tile with AVX-512F (kernel_amd64.s).
//
//go:noescape
func kernelAVX512m8x16(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// packT8 is packT14 for 8 rows.
//
//go:noescape
func packT8(dst, src *float32, ld, kc, ldd int)

// packT16 is packT14 for 16 rows.
//
//go:noescape
func packT16(dst, src *float32, ld, kc, ldd int)

// sfence orders the non-temporal stores before what follows
// (kernel_amd64.s).
func sfence()

var (
	avx512 = &family{name: KernelAVX512, variants: []*microKernel{
		{mr: 14, nr: 32, masked: true, fn: kernelAVX512, narrow: kernelAVX512x16, packA: packT14, packB: packT16},
		{mr: 8, nr: 32, masked: true, fn: kernelAVX512m8, narrow: kernelAVX512m8x16, packA: packT8, packB: packT16},
	}}
	avx2 = &family{name: KernelAVX2, variants: []*microKernel{
		{mr: 6, nr: 16, fn: kernelAVX2, narrow: kernelAVX2x8},
	}}
)

// availableKernels lists the kernel families this CPU can run, fastest
// first.
func availableKernels() []*family {
	var ks []*family
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2)
	}
	return ks
}
