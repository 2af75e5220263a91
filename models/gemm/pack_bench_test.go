package gemm

import "testing"

// BenchmarkPackA measures packing one 14×320 micro-panel of a row-major A
// with rows 9216 floats apart (fc1's input), in ns per element.
func BenchmarkPackA(b *testing.B) {
	const mr, kc, lda = 14, 320, 9216
	a := make([]float32, mr*lda)
	p := &problem{a: a, lda: lda, m: mr, k: lda}
	dst := make([]float32, kc*mr)
	for b.Loop() {
		packAPanel(dst, p, mr, 0, mr, 0, kc)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(mr*kc), "ns/elem")
}

// BenchmarkPackAKernel is BenchmarkPackA with the kernel's own packer.
func BenchmarkPackAKernel(b *testing.B) {
	const mr, kc, lda = 14, 320, 9216
	fam := active.Load()
	if fam == nil || fam.variants[0].packA == nil || fam.variants[0].mr != mr {
		b.Skip("no packer for 14-row panels")
	}
	ker := fam.variants[0]
	a := make([]float32, mr*lda)
	dst := make([]float32, kc*mr)
	for b.Loop() {
		ker.packA(&dst[0], &a[0], lda, kc, mr)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(mr*kc), "ns/elem")
}
