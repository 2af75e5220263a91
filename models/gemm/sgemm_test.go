package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gemmCase is one product to check: op(A) m×k, op(B) k×n, with pad extra
// columns in every leading dimension.
type gemmCase struct {
	name        string
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float32
	pad         int
	serial      bool // through SgemmSerial
}

// tolerance bounds max|got-want| / max|want| against gonum's Sgemm.
const tolerance = 1e-5

// cnnCases are the products of the CNN's training step at batch b: the
// convolutions' per image (im2col×filters with the gradients of filters
// and input), and the two dense layers' as x×W with theirs.
func cnnCases(b int) []gemmCase {
	N, T := blas.NoTrans, blas.Trans
	c := func(name string, tA, tB blas.Transpose, m, n, k int) gemmCase {
		return gemmCase{name: fmt.Sprintf("b%d/%s", b, name), tA: tA, tB: tB, m: m, n: n, k: k, alpha: 1}
	}
	return []gemmCase{
		c("conv1", N, N, 26*26, 32, 9),
		c("conv1_dW", T, N, 32, 9, 26*26),
		c("conv2", N, N, 24*24, 64, 288),
		c("conv2_dX", N, N, 24*24, 288, 64),
		c("conv2_dW", T, N, 64, 288, 24*24),
		c("fc1", N, N, b, 128, 9216),
		c("fc1_dX", N, T, b, 9216, 128),
		c("fc1_dW", T, N, 9216, 128, b),
		c("fc2", N, N, b, 10, 128),
		c("fc2_dX", N, T, b, 128, 10),
		c("fc2_dW", T, N, 128, 10, b),
	}
}

// shapeCases crosses small and odd shapes with all transposes and several
// alpha, beta and padding values.
func shapeCases() []gemmCase {
	shapes := [][3]int{
		{1, 1, 1}, {1, 1, 7}, {2, 3, 4}, {1, 40, 3}, {40, 1, 3},
		{6, 16, 5}, {14, 32, 1}, {13, 31, 17}, {15, 33, 19}, {29, 65, 300},
		{100, 10, 9}, {7, 1000, 3}, {32, 9, 5000}, {150, 170, 700}, {300, 70, 40},
		{5, 7, 0}, {9, 33, 20}, {0, 3, 4}, {3, 0, 4},
	}
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}, {0, 0.5}}
	trans := []blas.Transpose{blas.NoTrans, blas.Trans}
	var cs []gemmCase
	for si, s := range shapes {
		for _, tA := range trans {
			for _, tB := range trans {
				sc := scalars[si%len(scalars)]
				pad := si % 3
				cs = append(cs, gemmCase{
					name: fmt.Sprintf("%dx%dx%d/%c%c/a%g_b%g/pad%d", s[0], s[1], s[2],
						tA, tB, sc[0], sc[1], pad),
					tA: tA, tB: tB, m: s[0], n: s[1], k: s[2],
					alpha: sc[0], beta: sc[1], pad: pad,
				})
			}
		}
	}
	return cs
}

// matrix returns a rows×cols matrix with leading dimension cols+pad, values
// uniform in [-1, 1) and the padding set to fill.
func matrix(rng *rand.Rand, rows, cols, pad int, fill float32) ([]float32, int) {
	ld := max(cols+pad, 1)
	s := make([]float32, rows*ld)
	for i := range rows {
		for j := range ld {
			if j < cols {
				s[i*ld+j] = 2*rng.Float32() - 1
			} else {
				s[i*ld+j] = fill
			}
		}
	}
	return s, ld
}

// check runs tc through Sgemm and gonum and compares them.
func check(t *testing.T, tc gemmCase) {
	t.Helper()
	if err := compare(tc); err != nil {
		t.Error(err)
	}
}

// compare runs tc through Sgemm and gonum and compares them. The padding of
// A and B is NaN, so reading it shows in C; the padding of C must stay.
func compare(tc gemmCase) error {
	rng := rand.New(rand.NewPCG(uint64(tc.m), uint64(tc.n*1000+tc.k)))
	ar, ac := tc.m, tc.k
	if tc.tA != blas.NoTrans {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.tB != blas.NoTrans {
		br, bc = bc, br
	}
	nan := float32(math.NaN())
	a, lda := matrix(rng, ar, ac, tc.pad, nan)
	b, ldb := matrix(rng, br, bc, tc.pad, nan)
	c, ldc := matrix(rng, tc.m, tc.n, tc.pad, 12345)
	if tc.beta == 0 {
		// C must not be read: NaNs in it must not reach the result.
		for i := range tc.m {
			c[i*ldc] = nan
		}
	}
	want := append([]float32(nil), c...)
	gonum.Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	got := append([]float32(nil), c...)
	if tc.serial {
		SgemmSerial(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
	} else {
		Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
	}

	var maxDiff, maxWant float64
	for i := range tc.m {
		for j := range ldc {
			g, w := got[i*ldc+j], want[i*ldc+j]
			if j >= tc.n {
				if g != 12345 {
					return fmt.Errorf("C padding [%d][%d] changed to %g", i, j, g)
				}
				continue
			}
			if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
				return fmt.Errorf("C[%d][%d] = %g, want %g", i, j, g, w)
			}
			maxDiff = max(maxDiff, math.Abs(float64(g-w)))
			maxWant = max(maxWant, math.Abs(float64(w)))
		}
	}
	if rel := maxDiff / max(maxWant, 1e-30); rel > tolerance {
		return fmt.Errorf("max|got-want|/max|want| = %.3g (max|want| %.3g), want <= %g", rel, maxWant, tolerance)
	}
	return nil
}

// forEachKernel runs f as a subtest once per kernel this CPU can run and,
// within a kernel, once per tile height.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := Kernel()
	t.Cleanup(func() {
		forceVariant = -1
		if err := SetKernel(saved); err != nil {
			t.Errorf("restore kernel: %v", err)
		}
	})
	for _, name := range Kernels() {
		if err := SetKernel(name); err != nil {
			t.Fatal(err)
		}
		fam := active.Load()
		if fam == nil {
			t.Run(name, f)
			continue
		}
		for i, v := range fam.variants {
			forceVariant = i
			t.Run(fmt.Sprintf("%s/mr%d", name, v.mr), f)
		}
		forceVariant = -1
	}
}

func TestSgemmShapes(t *testing.T) {
	defer SetThreads(0)
	forEachKernel(t, func(t *testing.T) {
		for _, threads := range []int{1, 2, 3} {
			SetThreads(threads)
			for _, tc := range shapeCases() {
				t.Run(fmt.Sprintf("t%d/%s", threads, tc.name), func(t *testing.T) { check(t, tc) })
			}
		}
	})
}

// TestSgemmSerial checks SgemmSerial on every shape while Sgemm would
// split the same products among goroutines.
func TestSgemmSerial(t *testing.T) {
	defer SetThreads(0)
	SetThreads(3)
	forEachKernel(t, func(t *testing.T) {
		for _, tc := range shapeCases() {
			tc.serial = true
			t.Run(tc.name, func(t *testing.T) { check(t, tc) })
		}
	})
}

func TestSgemmCNN(t *testing.T) {
	batches := []int{10, 64}
	if testing.Short() {
		batches = batches[:1]
	}
	forEachKernel(t, func(t *testing.T) {
		if Kernel() == KernelGonum {
			t.Skip("gonum is the reference")
		}
		for _, b := range batches {
			for _, tc := range cnnCases(b) {
				t.Run(tc.name, func(t *testing.T) { check(t, tc) })
			}
		}
	})
}

// TestSgemmPanics checks that bad arguments panic with gonum's messages.
func TestSgemmPanics(t *testing.T) {
	N := blas.NoTrans
	s := make([]float32, 100)
	tests := []struct {
		name string
		f    func(impl blas.Float32)
	}{
		{"transpose", func(impl blas.Float32) { impl.Sgemm('x', N, 2, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"m<0", func(impl blas.Float32) { impl.Sgemm(N, N, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"lda", func(impl blas.Float32) { impl.Sgemm(N, N, 2, 2, 3, 1, s, 2, s, 2, 0, s, 2) }},
		{"ldc", func(impl blas.Float32) { impl.Sgemm(N, N, 2, 3, 2, 1, s, 2, s, 3, 0, s, 2) }},
		{"short a", func(impl blas.Float32) { impl.Sgemm(N, N, 20, 2, 10, 1, s, 10, s, 2, 0, s, 2) }},
		{"short c", func(impl blas.Float32) { impl.Sgemm(N, N, 60, 2, 1, 1, s, 1, s, 2, 0, s, 2) }},
	}
	catch := func(f func()) (msg any) {
		defer func() { msg = recover() }()
		f()
		return nil
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := catch(func() { tc.f(gonum.Implementation{}) })
			got := catch(func() { tc.f(Implementation{}) })
			if want == nil || got != want {
				t.Errorf("panic %v, want %v", got, want)
			}
		})
	}
}

// TestSgemmConcurrent runs products from several goroutines at once, as
// several trainings in one worker would.
func TestSgemmConcurrent(t *testing.T) {
	tc := gemmCase{name: "concurrent", tA: blas.NoTrans, tB: blas.Trans, m: 300, n: 64, k: 288, alpha: 1}
	errs := make(chan error)
	for range 4 {
		go func() {
			var err error
			for range 5 {
				if err == nil {
					err = compare(tc)
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestKernelChoice checks SetKernel, Kernel and SetThreads.
func TestKernelChoice(t *testing.T) {
	saved := Kernel()
	defer func() {
		if err := SetKernel(saved); err != nil {
			t.Error(err)
		}
	}()
	ks := Kernels()
	if ks[len(ks)-1] != KernelGonum {
		t.Errorf("Kernels() = %v, want gonum last", ks)
	}
	if saved != ks[0] {
		t.Errorf("Kernel() = %q at start, want the fastest available %q", saved, ks[0])
	}
	for _, k := range ks {
		if err := SetKernel(k); err != nil {
			t.Errorf("SetKernel(%q): %v", k, err)
		}
		if got := Kernel(); got != k {
			t.Errorf("Kernel() = %q after SetKernel(%q)", got, k)
		}
	}
	if err := SetKernel("sse"); !errors.Is(err, ErrKernelUnavailable) {
		t.Errorf("SetKernel(sse) = %v, want ErrKernelUnavailable", err)
	}
	SetThreads(3)
	if got := Threads(); got != 3 {
		t.Errorf("Threads() = %d after SetThreads(3)", got)
	}
	SetThreads(0)
	if got, want := Threads(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("Threads() = %d after SetThreads(0), want GOMAXPROCS %d", got, want)
	}
}

// TestPlan checks how the CNN's batch-level products at batch 64 (the
// dense layers'; the convolutions' run one per image on one goroutine
// each) are shared between two goroutines.
func TestPlan(t *testing.T) {
	ker := &microKernel{mr: 14, nr: 32}
	want := map[string]split{
		"fc1": splitN, "fc1_dX": splitN, "fc1_dW": splitM,
		"fc2": splitNone, "fc2_dX": splitNone, "fc2_dW": splitNone,
	}
	for _, tc := range cnnCases(64) {
		name := tc.name[len("b64/"):]
		if strings.HasPrefix(name, "conv") {
			continue
		}
		p := &problem{m: tc.m, n: tc.n, k: tc.k}
		got, n := plan(ker, p, 2)
		if got != want[name] {
			t.Errorf("%s: split %d, want %d", name, got, want[name])
		}
		if wantN := map[bool]int{true: 1, false: 2}[got == splitNone]; n != wantN {
			t.Errorf("%s: %d goroutines, want %d", name, n, wantN)
		}
	}
}

// TestPick checks which tile height a family picks for C's row count.
func TestPick(t *testing.T) {
	fam := &family{name: "test", variants: []*microKernel{{mr: 14, nr: 32}, {mr: 8, nr: 32}}}
	tests := []struct{ m, wantMR int }{
		{1, 8}, {10, 14}, {14, 14}, {32, 8}, {64, 8}, {100, 8}, {150, 14}, {9216, 14}, {36864, 14},
	}
	for _, tc := range tests {
		if got := fam.pick(tc.m).mr; got != tc.wantMR {
			t.Errorf("pick(%d).mr = %d, want %d", tc.m, got, tc.wantMR)
		}
	}
}

// TestBlocks checks how a dimension is cut into equal blocks.
func TestBlocks(t *testing.T) {
	tests := []struct{ n, limit, align, want int }{
		{288, 320, 8, 288}, {36864, 320, 8, 320}, {1024, 320, 8, 256}, {9216, 320, 8, 320}, {700, 320, 8, 240},
	}
	for _, tc := range tests {
		if got := blocks(tc.n, tc.limit, tc.align); got != tc.want {
			t.Errorf("blocks(%d, %d, %d) = %d, want %d", tc.n, tc.limit, tc.align, got, tc.want)
		}
	}
}
