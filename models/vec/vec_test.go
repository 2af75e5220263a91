package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func randoms(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = scale * float32(2*r.Float64()-1)
	}
	return s
}

// TestAdadeltaMatchesGo compares Adadelta (the assembly loop where the
// CPU has one) with the plain Go loop over several steps, on lengths with
// and without a tail.
func TestAdadeltaMatchesGo(t *testing.T) {
	if !Accelerated() {
		t.Skip("no assembly on this CPU: Adadelta is the Go loop itself")
	}
	for _, n := range []int{1, 7, 8, 9, 64, 1000, 4099} {
		for _, wd := range []float32{0, 1e-4} {
			t.Run(fmt.Sprintf("n%d/wd%g", n, wd), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 1))
				p := AdadeltaParams{LR: 0.7, Rho: 0.9, Eps: 1e-6, WeightDecay: wd}
				w := randoms(r, n, 1)
				v, u := make([]float32, n), make([]float32, n)
				w2 := append([]float32(nil), w...)
				v2, u2 := make([]float32, n), make([]float32, n)
				for step := range 5 {
					g := randoms(r, n, 0.1)
					g2 := append([]float32(nil), g...)
					if !Adadelta(w, g, v, u, p) || !adadeltaGo(w2, g2, v2, u2, p) {
						t.Fatalf("step %d: finite weights reported non-finite", step)
					}
					for i := range w {
						if g[i] != 0 || g2[i] != 0 {
							t.Fatalf("step %d: g[%d] = %v (Go loop %v) left after the step", step, i, g[i], g2[i])
						}
						// Fused multiply-adds round differently: the weights
						// (of order 1) agree to 1e-6, the averages to 1e-5
						// of their size.
						for _, c := range []struct {
							name      string
							got, want float32
							tol       float64
						}{{"w", w[i], w2[i], 1e-6}, {"v", v[i], v2[i], 1e-5 * math.Abs(float64(v2[i]))}, {"u", u[i], u2[i], 1e-5 * math.Abs(float64(u2[i]))}} {
							if d := math.Abs(float64(c.got - c.want)); d > c.tol+1e-20 {
								t.Fatalf("step %d: %s[%d] = %v, Go loop %v", step, c.name, i, c.got, c.want)
							}
						}
					}
				}
			})
		}
	}
}

// TestAdadeltaNonFinite checks that a NaN or infinite weight anywhere,
// in the vector part or in the tail, is reported.
func TestAdadeltaNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		for _, at := range []int{0, 5, 16, 20} {
			n := 21
			w, g, v, u := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			w[at] = bad
			if Adadelta(w, g, v, u, AdadeltaParams{LR: 1, Rho: 0.9, Eps: 1e-6}) {
				t.Errorf("w[%d] = %v: reported finite", at, bad)
			}
		}
	}
	n := 24
	if !Adadelta(make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), AdadeltaParams{LR: 1, Rho: 0.9, Eps: 1e-6}) {
		t.Error("zero weights reported non-finite")
	}
}

func TestAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{0, 1, 8, 31, 32, 33, 100, 1000} {
		dst, src := randoms(r, n, 1), randoms(r, n+3, 1)
		want := append([]float32(nil), dst...)
		for i := range want {
			want[i] += src[i]
		}
		Add(dst, src)
		for i := range want {
			if dst[i] != want[i] {
				t.Fatalf("n %d: dst[%d] = %v, want %v", n, i, dst[i], want[i])
			}
		}
	}
}

func TestLengthsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Adadelta on slices of different lengths did not panic")
		}
	}()
	Adadelta(make([]float32, 8), make([]float32, 7), make([]float32, 8), make([]float32, 8), AdadeltaParams{})
}

// BenchmarkAdadelta compares the assembly loop with the Go loop on the
// size of the first linear layer (1,179,648 weights).
func BenchmarkAdadelta(b *testing.B) {
	n := 9216 * 128
	r := rand.New(rand.NewPCG(1, 1))
	w, v, u := randoms(r, n, 1), make([]float32, n), make([]float32, n)
	g := make([]float32, n)
	p := AdadeltaParams{LR: 1, Rho: 0.9, Eps: 1e-6}
	for _, impl := range []struct {
		name string
		f    func(w, g, v, u []float32, p AdadeltaParams) bool
	}{{"asm", Adadelta}, {"go", adadeltaGo}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(16 * n))
			for b.Loop() {
				impl.f(w, g, v, u, p)
			}
		})
	}
}

func TestMul(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{0, 1, 8, 31, 32, 33, 100, 1000} {
		dst, a, b := make([]float32, n), randoms(r, n, 1), randoms(r, n+5, 1)
		Mul(dst, a, b)
		for i := range dst {
			if want := a[i] * b[i]; dst[i] != want {
				t.Fatalf("n %d: dst[%d] = %v, want %v", n, i, dst[i], want)
			}
		}
	}
	// In place, as the dropout's gradient may run.
	a, b := randoms(r, 40, 1), randoms(r, 40, 1)
	want := make([]float32, 40)
	for i := range want {
		want[i] = a[i] * b[i]
	}
	Mul(a, a, b)
	for i := range a {
		if a[i] != want[i] {
			t.Fatalf("in place: [%d] = %v, want %v", i, a[i], want[i])
		}
	}
}

// TestPoolGrad compares PoolGrad with the rule it implements, lane by
// lane, on values drawn from a few levels (so that windows tie, and their
// maximum is often 0 or negative), for both floors and lengths around
// the assembly's 8 lanes.
func TestPoolGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	levels := []float32{-2, -1, -0.5, 0, 0.5, 1, 2}
	for _, floor := range []float32{0, float32(math.Inf(-1))} {
		for _, n := range []int{0, 1, 7, 8, 9, 64, 67} {
			var x, d [4][]float32
			for k := range x {
				x[k], d[k] = make([]float32, n), make([]float32, n)
				for i := range x[k] {
					x[k][i] = levels[r.IntN(len(levels))]
					d[k][i] = 99 // must be overwritten
				}
			}
			g := make([]float32, n)
			for i := range g {
				g[i] = r.Float32() + 0.5
			}
			PoolGrad(d[0], d[1], d[2], d[3], x[0], x[1], x[2], x[3], g, floor)
			for i := range n {
				m := max(x[0][i], x[1][i], x[2][i], x[3][i])
				first := -1
				for k := range x {
					if x[k][i] == m {
						first = k
						break
					}
				}
				for k := range x {
					want := float32(0)
					if k == first && m > floor {
						want = g[i]
					}
					if d[k][i] != want {
						t.Fatalf("floor %v, n %d, lane %d, input %d: %v, want %v (window %v %v %v %v)", floor, n, i, k,
							d[k][i], want, x[0][i], x[1][i], x[2][i], x[3][i])
					}
				}
			}
		}
	}
}

// TestReLU checks ReLU's values (signed zeros included) and its finiteness
// report on lengths around the assembly's 8 lanes, with a NaN or an
// infinity in the vector part and in the tail.
func TestReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 64, 67} {
		src := randoms(r, n, 3)
		if n > 2 {
			src[1] = float32(math.Copysign(0, -1))
		}
		dst := make([]float32, n)
		if !ReLU(dst, src) {
			t.Errorf("n %d: finite values reported as not finite", n)
		}
		for i, v := range src {
			want := float32(0)
			if v > 0 {
				want = v
			}
			if dst[i] != want || math.Signbit(float64(dst[i])) {
				t.Fatalf("n %d [%d]: ReLU(%v) = %v, want %v", n, i, v, dst[i], want)
			}
		}
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			for _, at := range []int{0, n - 1} {
				if n == 0 {
					continue
				}
				s := append([]float32(nil), src...)
				s[at] = bad
				if ReLU(dst, s) {
					t.Errorf("n %d: %v at %d reported finite", n, bad, at)
				}
			}
		}
	}
	// In place.
	s := []float32{-1, 2, -3, 4, -5, 6, -7, 8, -9}
	ReLU(s, s)
	for i, v := range s {
		if want := float32(max(0, (i%2)*(i+1))); v != want {
			t.Errorf("in place [%d] = %v, want %v", i, v, want)
		}
	}
}

// TestPool compares Pool with the rule it implements, lane by lane, on
// values drawn from a few levels, for both floors and lengths around the
// assembly's 8 lanes, and checks its finiteness report with a NaN or an
// infinity in each input, in the vector part and in the tail.
func TestPool(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	levels := []float32{-2, -1, -0.5, 0, 0.5, 1, 2}
	for _, floor := range []float32{0, float32(math.Inf(-1))} {
		for _, n := range []int{0, 1, 7, 8, 9, 64, 67} {
			var x [4][]float32
			for k := range x {
				x[k] = make([]float32, n)
				for i := range x[k] {
					x[k][i] = levels[r.IntN(len(levels))] * (1 + r.Float32())
				}
			}
			dst := make([]float32, n)
			bias := make([]float32, n)
			for i := range bias {
				bias[i] = levels[r.IntN(len(levels))] * r.Float32()
			}
			for _, b := range [][]float32{nil, bias} {
				if !Pool(dst, x[0], x[1], x[2], x[3], b, floor) {
					t.Errorf("floor %v, n %d, bias %v: finite inputs reported as not finite", floor, n, b != nil)
				}
				for i := range n {
					m := max(x[0][i], x[1][i], x[2][i], x[3][i])
					if b != nil {
						m += b[i]
					}
					if want := max(m, floor); dst[i] != want {
						t.Fatalf("floor %v, n %d, bias %v, lane %d: %v, want %v (window %v %v %v %v)", floor, n, b != nil, i,
							dst[i], want, x[0][i], x[1][i], x[2][i], x[3][i])
					}
				}
			}
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				for k := range x {
					for _, at := range []int{0, n - 1} {
						if n == 0 {
							continue
						}
						old := x[k][at]
						x[k][at] = bad
						if Pool(dst, x[0], x[1], x[2], x[3], bias, floor) {
							t.Errorf("floor %v, n %d: %v in input %d at %d reported finite", floor, n, bad, k, at)
						}
						x[k][at] = old
					}
				}
			}
		}
	}
}

// TestReLUGrad checks ReLUGrad (the assembly loop where the CPU has one)
// on lengths with and without a tail, in place and not, against the rule
// written out: g where y > 0, including a NaN of sign 0, else 0 (-0, +0,
// negatives, a negative NaN).
func TestReLUGrad(t *testing.T) {
	nan, negNaN := float32(math.NaN()), math.Float32frombits(0xffc00000)
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, nan, negNaN, float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, n := range []int{1, 7, 8, 9, 16, 17, 64, 1000, 4099} {
		for _, inPlace := range []bool{false, true} {
			t.Run(fmt.Sprintf("n%d/inplace%v", n, inPlace), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 2))
				y, g := randoms(r, n, 1), randoms(r, n, 1)
				for i := range y {
					if i%5 == 0 {
						y[i] = special[(i/5)%len(special)]
					}
				}
				want := make([]float32, n)
				for i, v := range y {
					if v > 0 || (v != v && !math.Signbit(float64(v))) {
						want[i] = g[i]
					}
				}
				out := make([]float32, n)
				if inPlace {
					out = g
				}
				ReLUGrad(out, y, g)
				for i := range want {
					if math.Float32bits(out[i]) != math.Float32bits(want[i]) {
						t.Fatalf("out[%d] = %v for y %v, want %v", i, out[i], y[i], want[i])
					}
				}
			})
		}
	}
}

// BenchmarkReLUGrad compares ReLUGrad with the branchless Go loop it
// replaced, alternating on one image's conv1 activations (26·26·32
// values, in cache as in the training step):
//
//	go test -run '^$' -bench ReLUGrad ./models/vec
func BenchmarkReLUGrad(b *testing.B) {
	n := 26 * 26 * 32
	r := rand.New(rand.NewPCG(3, 3))
	y, g, out := randoms(r, n, 1), randoms(r, n, 1), make([]float32, n)
	goLoop := func(out, y, g []float32) {
		out, g = out[:len(y)], g[:len(y)]
		for i, v := range y {
			s := int32(math.Float32bits(v))
			out[i] = math.Float32frombits(math.Float32bits(g[i]) & uint32(((-s)&^s)>>31))
		}
	}
	var t [2]time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if i%2 == 0 {
			goLoop(out, y, g)
		} else {
			ReLUGrad(out, y, g)
		}
		t[i%2] += time.Since(start)
	}
	if b.N >= 2 {
		b.ReportMetric(t[0].Seconds()/t[1].Seconds(), "go/asm")
	}
}

// TestTranspose checks Transpose against the definition on shapes the
// assembly takes (multiples of 8, the max-pool's 144×64 and back) and on
// shapes it leaves to the Go loop.
func TestTranspose(t *testing.T) {
	for _, tc := range []struct{ rows, cols int }{{8, 8}, {144, 64}, {64, 144}, {16, 8}, {8, 24}, {7, 8}, {9, 13}, {1, 1}, {0, 5}} {
		src := make([]float32, tc.rows*tc.cols)
		for i := range src {
			src[i] = float32(i) + 0.5
		}
		dst := make([]float32, len(src)+3)
		dst[len(src)] = -1
		Transpose(dst, src, tc.rows, tc.cols)
		for r := range tc.rows {
			for c := range tc.cols {
				if got, want := dst[c*tc.rows+r], src[r*tc.cols+c]; got != want {
					t.Fatalf("%d×%d: dst[%d][%d] = %v, want %v", tc.rows, tc.cols, c, r, got, want)
				}
			}
		}
		if dst[len(src)] != -1 {
			t.Fatalf("%d×%d: wrote past rows·cols", tc.rows, tc.cols)
		}
	}
}

// BenchmarkTranspose compares Transpose with the Go loop on the max-pool's
// tile (144 pixels × 64 channels), alternating:
//
//	go test -run '^$' -bench Transpose ./models/vec
func BenchmarkTranspose(b *testing.B) {
	rows, cols := 144, 64
	src, dst := make([]float32, rows*cols), make([]float32, rows*cols)
	var t [2]time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if i%2 == 0 {
			for r := range rows {
				for c, v := range src[r*cols:][:cols] {
					dst[c*rows+r] = v
				}
			}
		} else {
			Transpose(dst, src, rows, cols)
		}
		t[i%2] += time.Since(start)
	}
	if b.N >= 2 {
		b.ReportMetric(t[0].Seconds()/t[1].Seconds(), "go/asm")
	}
}
