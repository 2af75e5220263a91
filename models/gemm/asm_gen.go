//go:build ignore

// asm_gen writes kernel_amd64.s, the micro-kernels of package gemm.
//
//	go run asm_gen.go
//
// Each kernel computes one MR×NR tile
//
//	C[i][j] = alpha·Σ_p A(i,p)·B(p,j) + beta·C[i][j]
//
// where A(i,p) is at a + i·aRow + p·aK, B(p, j) at b + p·bK + j and C[i][j]
// at c + i·ldc + j (all strides in float32 elements). With beta == 0, C is
// not read.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// rowAddr gives the address of A(i, p) for the current p, i < 16. SI is a,
// BX is a + 9·aRow, R8 is aRow, R12 3·aRow, R13 5·aRow, R14 7·aRow (bytes).
var rowAddr = []string{
	"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R12*1)", "(SI)(R8*4)", "(SI)(R13*1)",
	"(SI)(R12*2)", "(SI)(R14*1)", "(SI)(R8*8)",
	"(BX)", "(BX)(R8*1)", "(BX)(R8*2)", "(BX)(R12*1)", "(BX)(R8*4)",
	"(BX)(R13*1)", "(BX)(R12*2)",
}

type kernel struct {
	name   string
	mr     int
	vecs   int    // vectors per row of the tile
	reg    string // register prefix: Z or Y
	vbytes int    // bytes per vector
	zero   string // instruction that zeroes a register
}

func gen(k kernel) {
	nr := k.vecs * k.vbytes / 4
	acc := func(i, v int) string { return fmt.Sprintf("%s%d", k.reg, i*k.vecs+v) }
	nacc := k.mr * k.vecs
	breg := func(v int) string { return fmt.Sprintf("%s%d", k.reg, nacc+v) }
	bc := func(i int) string { return fmt.Sprintf("%s%d", k.reg, nacc+k.vecs+i%2) }

	p("// func %s(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)", k.name)
	p("// computes one %d×%d tile; while it runs, it prefetches one line a step:", k.mr, nr)
	p("// pf + p·pfK + (p mod %d)·pfRow at step p, into L1 or L2 (hint bit 1).", k.mr)
	p("// With AVX-512 it writes only the first cols columns of C (and reads no")
	p("// others), or with hint bit 2 and beta 0 all columns with non-temporal")
	p("// stores (C 64-byte aligned).")
	p("TEXT ·%s(SB), NOSPLIT, $0-112", k.name)
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), SI")
	p("\tMOVQ aRow+16(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tMOVQ aK+24(FP), R9")
	p("\tSHLQ $2, R9")
	p("\tMOVQ b+32(FP), DI")
	p("\tMOVQ bK+40(FP), R10")
	p("\tSHLQ $2, R10")
	p("\tMOVQ c+48(FP), DX")
	p("\tMOVQ ldc+56(FP), R11")
	p("\tSHLQ $2, R11")
	p("\tLEAQ (R8)(R8*2), R12")
	p("\tLEAQ (R8)(R8*4), R13")
	p("\tLEAQ (R12)(R8*4), R14")
	if k.mr > 9 {
		p("\tLEAQ (R8)(R8*8), BX")
		p("\tADDQ SI, BX")
	}
	// Prefetch the C tile while the products are computed, unless it is
	// to be written around the caches (hint bit 2).
	p("\tTESTQ $2, hint+96(FP)")
	p("\tJNZ %s_nopf", k.name)
	p("\tMOVQ DX, AX")
	for i := 0; i < k.mr; i++ {
		for off := 0; off < k.vecs*k.vbytes; off += 64 {
			p("\tPREFETCHT0 %d(AX)", off)
		}
		p("\tPREFETCHT0 %d(AX)", k.vecs*k.vbytes-1)
		if i < k.mr-1 {
			p("\tADDQ R11, AX")
		}
	}
	p("%s_nopf:", k.name)
	for i := 0; i < nacc; i++ {
		r := fmt.Sprintf("%s%d", k.reg, i)
		p("\t%s %s, %s, %s", k.zero, r, r, r)
	}
	// AX walks the panel to prefetch along k, DX cycles through its rows
	// (byte offsets 0 to mr·aRow), R11 is the end of that cycle.
	// R15 is pfRow, pfK is turned into bytes in place.
	p("\tMOVQ pf+72(FP), AX")
	p("\tMOVQ pfRow+80(FP), R15")
	p("\tSHLQ $2, R15")
	p("\tMOVQ pfK+88(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ DX, pfK+88(FP)")
	p("\tXORQ DX, DX")
	p("\tIMUL3Q $%d, R15, R11", k.mr)
	p("\tTESTQ CX, CX")
	p("\tJLE %s_store", k.name)
	// The loop twice: prefetching into L1 (hint 0) or L2 (hint 1).
	p("\tTESTQ $1, hint+96(FP)")
	p("\tJNZ %s_loopT1", k.name)
	for _, level := range []string{"T0", "T1"} {
		p("%s_loop%s:", k.name, level)
		p("\tPREFETCH%s (AX)(DX*1)", level)
		p("\tADDQ R15, DX")
		p("\tCMPQ DX, R11")
		p("\tJLT %s_rowok%s", k.name, level)
		p("\tXORQ DX, DX")
		p("%s_rowok%s:", k.name, level)
		p("\tADDQ pfK+88(FP), AX")
		for v := 0; v < k.vecs; v++ {
			p("\tVMOVUPS %d(DI), %s", v*k.vbytes, breg(v))
		}
		for i := 0; i < k.mr; i++ {
			p("\tVBROADCASTSS %s, %s", rowAddr[i], bc(i))
			for v := 0; v < k.vecs; v++ {
				p("\tVFMADD231PS %s, %s, %s", bc(i), breg(v), acc(i, v))
			}
		}
		p("\tADDQ R9, SI")
		if k.mr > 9 {
			p("\tADDQ R9, BX")
		}
		p("\tADDQ R10, DI")
		p("\tDECQ CX")
		p("\tJNZ %s_loop%s", k.name, level)
		p("\tJMP %s_store", k.name)
	}

	p("%s_store:", k.name)
	p("\tMOVQ c+48(FP), DX")
	p("\tMOVQ ldc+56(FP), R11")
	p("\tSHLQ $2, R11")
	alpha, beta := breg(0), breg(1)
	masked := k.reg == "Z"
	// ld and st load and store vector v of a row of C: with AVX-512, only
	// the columns below cols (masks K1, K2 for vectors 0, 1).
	ld := func(v int, dst string) string {
		if masked {
			return fmt.Sprintf("VMOVUPS.Z %d(DX), K%d, %s", v*k.vbytes, v+1, dst)
		}
		return fmt.Sprintf("VMOVUPS %d(DX), %s", v*k.vbytes, dst)
	}
	st := func(v int, src string) string {
		if masked {
			return fmt.Sprintf("VMOVUPS %s, K%d, %d(DX)", src, v+1, v*k.vbytes)
		}
		return fmt.Sprintf("VMOVUPS %s, %d(DX)", src, v*k.vbytes)
	}
	if masked {
		// K1 = (1 << min(cols, 16)) - 1, K2 = (1 << clamp(cols-16, 0, 16)) - 1.
		p("\tMOVQ cols+104(FP), CX")
		for v := 0; v < k.vecs; v++ {
			p("\tMOVL $0xffff, AX")
			p("\tCMPQ CX, $16")
			p("\tJGE %s_mask%d", k.name, v)
			p("\tXORL AX, AX")
			p("\tTESTQ CX, CX")
			p("\tJLE %s_mask%d", k.name, v)
			p("\tMOVL $1, AX")
			p("\tSHLL CX, AX")
			p("\tDECL AX")
			p("%s_mask%d:", k.name, v)
			p("\tKMOVW AX, K%d", v+1)
			p("\tSUBQ $16, CX")
		}
	}
	tmp := bc(1) // bc(0) is beta when vecs == 1
	p("\tVBROADCASTSS alpha+64(FP), %s", alpha)
	p("\tMOVL beta+68(FP), AX")
	p("\tANDL $0x7fffffff, AX")
	p("\tJZ %s_beta0", k.name)
	p("\tVBROADCASTSS beta+68(FP), %s", beta)
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.vecs; v++ {
			p("\tVMULPS %s, %s, %s", alpha, acc(i, v), acc(i, v))
			p("\t" + ld(v, tmp))
			p("\tVFMADD231PS %s, %s, %s", tmp, beta, acc(i, v))
			p("\t" + st(v, acc(i, v)))
		}
		if i < k.mr-1 {
			p("\tADDQ R11, DX")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("%s_beta0:", k.name)
	if masked {
		p("\tTESTQ $2, hint+96(FP)")
		p("\tJNZ %s_nt", k.name)
	}
	for i := 0; i < k.mr; i++ {
		for v := 0; v < k.vecs; v++ {
			p("\tVMULPS %s, %s, %s", alpha, acc(i, v), acc(i, v))
			p("\t" + st(v, acc(i, v)))
		}
		if i < k.mr-1 {
			p("\tADDQ R11, DX")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	if masked {
		// Full tiles of a C that the caches would not keep anyway: stored
		// around them, without reading the lines first; 64-byte aligned.
		p("%s_nt:", k.name)
		for i := 0; i < k.mr; i++ {
			for v := 0; v < k.vecs; v++ {
				p("\tVMULPS %s, %s, %s", alpha, acc(i, v), acc(i, v))
				p("\tVMOVNTPS %s, %d(DX)", acc(i, v), v*k.vbytes)
			}
			if i < k.mr-1 {
				p("\tADDQ R11, DX")
			}
		}
		p("\tVZEROUPPER")
		p("\tRET")
	}
	p("")
}

// genPackTranspose writes packT<rows>, which transposes rows rows of a
// row-major matrix into columns: it loads 16 columns of each row (one cache
// line when aligned), transposes the 16×16 block in registers and stores 16
// columns of rows values, ldd floats apart.
func genPackTranspose(rows int) {
	name := fmt.Sprintf("packT%d", rows)
	p("// func %s(dst, src *float32, ld, kc, ldd int)", name)
	p("// sets dst[q·ldd+i] = src[i·ld+q] for i < %d, q < kc.", rows)
	p("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ ld+16(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tMOVQ kc+24(FP), CX")
	p("\tMOVQ ldd+32(FP), R9")
	p("\tSHLQ $2, R9")
	p("\tLEAQ (R8)(R8*2), R12")
	p("\tLEAQ (R8)(R8*4), R13")
	p("\tLEAQ (R12)(R8*4), R14")
	p("\tLEAQ (R8)(R8*8), BX")
	p("\tADDQ SI, BX")
	p("\tMOVL $0x%x, DX", 1<<rows-1)
	p("\tKMOVW DX, K2")
	p("\tCMPQ CX, $16")
	p("\tJLT %s_tail", name)
	p("%s_loop:", name)
	for i := 0; i < rows; i++ {
		p("\tVMOVUPS %s, Z%d", rowAddr[i], i)
	}
	transpose16()
	for q := 0; q < 16; q++ {
		p("\tVMOVUPS Z%d, K2, (DI)", q)
		p("\tADDQ R9, DI")
	}
	p("\tADDQ $64, SI")
	p("\tADDQ $64, BX")
	p("\tSUBQ $16, CX")
	p("\tCMPQ CX, $16")
	p("\tJGE %s_loop", name)
	p("%s_tail:", name)
	p("\tTESTQ CX, CX")
	p("\tJLE %s_done", name)
	// K3 = (1 << CX) - 1: the remaining columns.
	p("\tMOVL $1, DX")
	p("\tSHLL CX, DX")
	p("\tDECL DX")
	p("\tKMOVW DX, K3")
	for i := 0; i < rows; i++ {
		p("\tVMOVUPS.Z %s, K3, Z%d", rowAddr[i], i)
	}
	transpose16()
	for q := 0; q < 15; q++ {
		p("\tVMOVUPS Z%d, K2, (DI)", q)
		p("\tADDQ R9, DI")
		p("\tCMPQ CX, $%d", q+1)
		p("\tJEQ %s_done", name)
	}
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// transpose16 transposes the 16×16 block whose rows are Z0..Z15 (the rows
// past the panel's may hold anything) so that Zq holds column q; it uses Z16..Z31.
func transpose16() {
	// Stage 1: Z16+r, Z17+r interleave the floats of rows r, r+1.
	for r := 0; r < 16; r += 2 {
		p("\tVUNPCKLPS Z%d, Z%d, Z%d", r+1, r, 16+r)
		p("\tVUNPCKHPS Z%d, Z%d, Z%d", r+1, r, 17+r)
	}
	// Stage 2: Z(4g+c) holds rows 4g..4g+3 of columns c, c+4, c+8, c+12.
	for base := 0; base < 16; base += 4 {
		for j := 0; j < 2; j++ {
			a, b := 16+base+j, 16+base+2+j
			p("\tVUNPCKLPD Z%d, Z%d, Z%d", b, a, base+2*j)
			p("\tVUNPCKHPD Z%d, Z%d, Z%d", b, a, base+2*j+1)
		}
	}
	// Stages 3 and 4: a 4×4 transpose of 128-bit lanes for each c.
	for c := 0; c < 4; c++ {
		v0, v1, w0, w1 := 16+4*c, 17+4*c, 18+4*c, 19+4*c
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 4+c, c, v0)
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", 4+c, c, v1)
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 12+c, 8+c, w0)
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", 12+c, 8+c, w1)
	}
	for c := 0; c < 4; c++ {
		v0, v1, w0, w1 := 16+4*c, 17+4*c, 18+4*c, 19+4*c
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", w0, v0, c)
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", w0, v0, c+8)
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", w1, v1, c+4)
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", w1, v1, c+12)
	}
}

func main() {
	p("// Code generated by asm_gen.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	p("// func sfence()")
	p("TEXT ·sfence(SB), NOSPLIT, $0-0")
	p("\tSFENCE")
	p("\tRET")
	p("")
	genPackTranspose(14)
	genPackTranspose(8)
	genPackTranspose(16)
	gen(kernel{name: "kernelAVX512", mr: 14, vecs: 2, reg: "Z", vbytes: 64, zero: "VPXORD"})
	gen(kernel{name: "kernelAVX512x16", mr: 14, vecs: 1, reg: "Z", vbytes: 64, zero: "VPXORD"})
	gen(kernel{name: "kernelAVX512m8", mr: 8, vecs: 2, reg: "Z", vbytes: 64, zero: "VPXORD"})
	gen(kernel{name: "kernelAVX512m8x16", mr: 8, vecs: 1, reg: "Z", vbytes: 64, zero: "VPXORD"})
	gen(kernel{name: "kernelAVX2", mr: 6, vecs: 2, reg: "Y", vbytes: 32, zero: "VXORPS"})
	gen(kernel{name: "kernelAVX2x8", mr: 6, vecs: 1, reg: "Y", vbytes: 32, zero: "VXORPS"})
	if err := os.WriteFile("kernel_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
