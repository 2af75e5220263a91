//go:build linux

package gemm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gonum.org/v1/gonum/blas"
)

// envInt reads an integer knob from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// TestMain lets the blocking knobs be set from the environment for tuning
// (GEMM_KC, GEMM_BF, GEMM_PACKA, GEMM_PACKB, GEMM_PF); unset, they keep
// their defaults.
func TestMain(m *testing.M) {
	blockK = envInt("GEMM_KC", blockK)
	blockBFloats = envInt("GEMM_BF", blockBFloats)
	forcePackA = envInt("GEMM_PACKA", 0) == 1
	forcePackB = envInt("GEMM_PACKB", 0) == 1
	prefetchA = envInt("GEMM_PF", 1) == 1
	forceVariant = envInt("GEMM_VARIANT", -1)
	streamBytes = envInt("GEMM_STREAM", streamBytes)
	os.Exit(m.Run())
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkMeasure measures GFLOP/s as the best of many runs, which other
// loads on a shared machine disturb less than the mean that benchmarks
// report, and reports it as the metric "GFLOP/s-best" (with "GFLOP/s-mean",
// and for one thread "GFLOP/s-cpu"). Each sub-benchmark times its own runs
// (at least a second), whatever b.N. GEMM_MEASURE selects: "kernel" for the
// micro-kernels alone on data in cache, "all" (the default) or part of a
// case name for Sgemm on the benchmark cases. GEMM_THREADS sets the
// goroutines (default GOMAXPROCS), GEMM_KERNEL the kernel. With one thread,
// "GFLOP/s-cpu" divides by the best time on the thread's CPU clock, which
// does not count the time other processes hold the core: the speed on an
// idle core. (The process clock lags for other threads, so there is no such
// figure for several.)
//
//	GEMM_MEASURE=all GEMM_THREADS=1 go test -run '^$' -bench Measure -benchtime 1x ./models/gemm/
func BenchmarkMeasure(b *testing.B) {
	what := os.Getenv("GEMM_MEASURE")
	if what == "" {
		what = "all"
	}
	if k := os.Getenv("GEMM_KERNEL"); k != "" {
		saved := Kernel()
		if err := SetKernel(k); err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := SetKernel(saved); err != nil {
				b.Error(err)
			}
		}()
	}
	SetThreads(envInt("GEMM_THREADS", 0))
	defer SetThreads(0)
	if what == "kernel" {
		measureKernels(b)
		return
	}
	for _, tc := range benchCases() {
		if what != "all" && !strings.Contains(tc.name, what) {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			rng := rand.New(rand.NewPCG(1, 2))
			ar, ac := tc.m, tc.k
			if tc.tA != blas.NoTrans {
				ar, ac = ac, ar
			}
			br, bc := tc.k, tc.n
			if tc.tB != blas.NoTrans {
				br, bc = bc, br
			}
			a, lda := matrix(rng, ar, ac, 0, 0)
			bm, ldb := matrix(rng, br, bc, 0, 0)
			c, ldc := matrix(rng, tc.m, tc.n, 0, 0)
			flops := 2 * float64(tc.m) * float64(tc.n) * float64(tc.k)
			best, bestCPU := time.Hour, time.Hour
			var total time.Duration
			reps := 0
			for total < time.Second || reps < 5 {
				st, cst := time.Now(), threadCPU()
				Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, bm, ldb, tc.beta, c, ldc)
				d, cd := time.Since(st), threadCPU()-cst
				best = min(best, d)
				bestCPU = min(bestCPU, cd)
				total += d
				reps++
			}
			b.ReportMetric(flops/best.Seconds()/1e9, "GFLOP/s-best")
			b.ReportMetric(flops*float64(reps)/total.Seconds()/1e9, "GFLOP/s-mean")
			if Threads() == 1 && Kernel() != KernelGonum { // gonum runs its own goroutines
				b.ReportMetric(flops/bestCPU.Seconds()/1e9, "GFLOP/s-cpu")
			}
		})
	}
}

// measureKernels times each micro-kernel alone on a k=288 product whose
// operands sit in cache, with A packed or read in place.
func measureKernels(b *testing.B) {
	for _, fam := range availableKernels() {
		for _, ker := range fam.variants {
			measureKernel(b, fam.name, ker)
		}
	}
}

// measureKernel times one micro-kernel as measureKernels says.
func measureKernel(b *testing.B, name string, ker *microKernel) {
	const k = 288
	for _, lay := range []struct {
		name     string
		aRow, aK int
	}{
		{"A packed", 1, ker.mr},
		{"A rows in place", k, 1},
		{"A columns in place", 1, 64},
	} {
		b.Run(fmt.Sprintf("%s/%dx%d/%s", name, ker.mr, ker.nr, strings.ReplaceAll(lay.name, " ", "_")), func(b *testing.B) {
			a := make([]float32, k*64)
			bp := make([]float32, k*ker.nr)
			c := make([]float32, ker.mr*ker.nr)
			best := time.Hour
			for range 5000 {
				st := time.Now()
				for range 10 {
					ker.fn(k, &a[0], lay.aRow, lay.aK, &bp[0], ker.nr, &c[0], ker.nr, 1, 1, &a[0], lay.aRow, lay.aK, 0, ker.nr)
				}
				best = min(best, time.Since(st))
			}
			b.ReportMetric(20*float64(k*ker.mr*ker.nr)/best.Seconds()/1e9, "GFLOP/s-best")
		})
	}
}
