package gemm

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gonum.org/v1/gonum/blas"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	blockK = envInt("GEMM_KC", blockK)
	blockBFloats = envInt("GEMM_BF", blockBFloats)
	forcePackA = envInt("GEMM_PACKA", 0) == 1
	prefetchA = envInt("GEMM_PF", 1) == 1
	expMode = envInt("GEMM_EXP", 0)
	forcePackB = envInt("GEMM_PACKB", 0) == 1
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

func BenchmarkKernelOnly(b *testing.B) {
	for _, ker := range availableKernels() {
		b.Run(ker.name, func(b *testing.B) {
			k := 256
			a := make([]float32, k*ker.mr)
			bb := make([]float32, k*ker.nr)
			c := make([]float32, ker.mr*ker.nr)
			for i := range a {
				a[i] = 1
			}
			for b.Loop() {
				ker.fn(k, &a[0], 1, ker.mr, &bb[0], ker.nr, &c[0], ker.nr, 1, 1)
			}
			b.ReportMetric(2*float64(k*ker.mr*ker.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestKernelPeak(t *testing.T) {
	if os.Getenv("GEMM_PEAK") == "" {
		t.Skip()
	}
	for _, ker := range availableKernels() {
		k := 256
		a := make([]float32, k*ker.mr)
		bb := make([]float32, k*ker.nr)
		c := make([]float32, ker.mr*ker.nr)
		best := time.Hour
		for range 20000 {
			st := time.Now()
			for range 10 {
				ker.fn(k, &a[0], 1, ker.mr, &bb[0], ker.nr, &c[0], ker.nr, 1, 1)
			}
			best = min(best, time.Since(st))
		}
		t.Logf("%s: best %v per 10 calls: %.1f GFLOP/s", ker.name, best, 20*float64(k*ker.mr*ker.nr)/best.Seconds()/1e9)
	}
}

func TestTune(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip()
	}
	if k := os.Getenv("GEMM_KERNEL"); k != "" {
		if err := SetKernel(k); err != nil {
			t.Fatal(err)
		}
	}
	filter := os.Getenv("GEMM_TUNE")
	SetThreads(envInt("GEMM_THREADS", 0))
	defer SetThreads(0)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, tc := range benchCases() {
		if filter != "all" && !strings.Contains(tc.name, filter) {
			continue
		}
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
		t.Logf("%-22s %-6s best %8.1f GFLOP/s  mean %8.1f  cpu(1 thread) %8.1f", tc.name, Kernel(), flops/best.Seconds()/1e9, flops*float64(reps)/total.Seconds()/1e9, flops/bestCPU.Seconds()/1e9)
	}
}

func TestKernelPeakLayouts(t *testing.T) {
	if os.Getenv("GEMM_PEAK") == "" {
		t.Skip()
	}
	for _, ker := range availableKernels() {
		k := 288
		for _, lay := range []struct {
			name      string
			aRow, aK  int
			bK, bCols int
		}{
			{"packed", 1, ker.mr, ker.nr, ker.nr},
			{"directN", k, 1, ker.nr, ker.nr},
			{"directT", 1, 64, ker.nr, ker.nr},
			{"directN_B64", k, 1, 64, 64},
			{"directN_B288", k, 1, 288, 288},
		} {
			a := make([]float32, k*max(ker.mr, 64))
			bb := make([]float32, k*lay.bCols)
			c := make([]float32, ker.mr*ker.nr)
			best := time.Hour
			for range 5000 {
				st := time.Now()
				for range 10 {
					ker.fn(k, &a[0], lay.aRow, lay.aK, &bb[0], lay.bK, &c[0], ker.nr, 1, 1)
				}
				best = min(best, time.Since(st))
			}
			t.Logf("%s %s: %.1f GFLOP/s", ker.name, lay.name, 20*float64(k*ker.mr*ker.nr)/best.Seconds()/1e9)
		}
	}
}
