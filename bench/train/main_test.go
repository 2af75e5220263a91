package main

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Main
		wantErr error
	}{
		{
			name: "bench as the peer",
			args: []string{"bench", "10,64,128"},
			want: Main{Mode: ModeBench, Batches: []int{10, 64, 128}, BLAS: BLASGemm, Seed: 1, LR: 1, Warmup: 10, Rounds: 5, Steps: 20},
		},
		{
			name: "epoch with gonum",
			args: []string{"-blas", "gonum", "epoch", "64", "60000"},
			want: Main{Mode: ModeEpoch, Batch: 64, Images: 60000, BLAS: BLASGonum, Seed: 1, LR: 1, Warmup: 10, Rounds: 5, Steps: 20},
		},
		{name: "no mode", args: nil, wantErr: ErrUsage},
		{name: "unknown mode", args: []string{"train", "64"}, wantErr: ErrUsage},
		{name: "bench without sizes", args: []string{"bench"}, wantErr: ErrUsage},
		{name: "batch size 0", args: []string{"bench", "10,0"}, wantErr: ErrUsage},
		{name: "batch size not a number", args: []string{"bench", "10,x"}, wantErr: ErrUsage},
		{name: "epoch shorter than a batch", args: []string{"epoch", "64", "63"}, wantErr: ErrUsage},
		{name: "unknown BLAS", args: []string{"-blas", "openblas", "bench", "64"}, wantErr: ErrUsage},
		{name: "negative steps", args: []string{"-steps", "-1", "bench", "64"}, wantErr: ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Main
			err := m.ParseFlags(tc.args)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseFlags(%q) = %v, want %v", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFlags(%q) = %v", tc.args, err)
			}
			got := m
			got.Out, got.Logger = nil, nil
			if got.Mode != tc.want.Mode || !slices.Equal(got.Batches, tc.want.Batches) || got.Batch != tc.want.Batch ||
				got.Images != tc.want.Images || got.BLAS != tc.want.BLAS || got.Seed != tc.want.Seed || got.LR != tc.want.LR ||
				got.Warmup != tc.want.Warmup || got.Rounds != tc.want.Rounds || got.Steps != tc.want.Steps {
				t.Errorf("ParseFlags(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 4, 2, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

// TestOrder checks the peer's order: one permutation, batches in turn, a
// batch that would run past the end taken from the front again.
func TestOrder(t *testing.T) {
	o := newOrder(10, 1)
	if got := slices.Sorted(slices.Values(o.perm)); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("order of 10 images is %v, not a permutation", o.perm)
	}
	perm := slices.Clone(o.perm)
	for i, want := range [][]int{perm[0:4], perm[4:8], perm[0:4], perm[4:8], perm[0:4]} {
		if got := o.next(4); !slices.Equal(got, want) {
			t.Errorf("batch %d = %v, want %v", i+1, got, want)
		}
	}
	if got := o.next(6); !slices.Equal(got, perm[4:10]) {
		t.Errorf("batch of 6 after position 4 = %v, want %v", got, perm[4:10])
	}
}

// fields returns the key=value pairs of the first output line starting
// with prefix whose field key has value want ("" for any).
func fields(t *testing.T, out, prefix, key, want string) map[string]string {
	t.Helper()
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		kv := map[string]string{}
		for _, p := range f {
			if k, v, ok := strings.Cut(p, "="); ok {
				kv[k] = v
			}
		}
		if want == "" || kv[key] == want {
			return kv
		}
	}
	t.Fatalf("no %s line with %s=%s in\n%s", prefix, key, want, out)
	return nil
}

func number(t *testing.T, kv map[string]string, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(kv[key], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		t.Fatalf("%s=%q is not a finite number (%v) in %v", key, kv[key], err, kv)
	}
	return v
}

// TestRunBench measures two small batch sizes with few steps on 200 real
// images and checks a RESULT line per size, in order, and the peak RSS.
func TestRunBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark: -short")
	}
	var out strings.Builder
	m := &Main{Out: &out, Mode: ModeBench, Batches: []int{4, 8}, Warmup: 2, Rounds: 3, Steps: 2, TrainImages: 200, EvalImages: 100}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"4", "8"} {
		kv := fields(t, out.String(), "RESULT", "batch", b)
		rate, lo, hi := number(t, kv, "img_per_s"), number(t, kv, "min"), number(t, kv, "max")
		if !(rate > 0 && lo <= rate && rate <= hi) {
			t.Errorf("batch %s: img_per_s %v, min %v, max %v: want 0 < min <= median <= max", b, rate, lo, hi)
		}
		if loss := number(t, kv, "loss"); loss <= 0 {
			t.Errorf("batch %s: loss %v, want positive", b, loss)
		}
		// The ceiling: the GEMM on the step's products alone, so a step (which
		// also does everything else) reaches a fraction of it. Under heavy load
		// a round may be slowed more than its ceiling: allow some slack above 1.
		g, c, f := number(t, kv, "gflops"), number(t, kv, "ceiling_gflops"), number(t, kv, "ceiling_fraction")
		if !(g > 0 && c > 0 && f > 0 && f < 3) {
			t.Errorf("batch %s: gflops %v, ceiling_gflops %v, ceiling_fraction %v: want positive, fraction below 3", b, g, c, f)
		}
		if ev := number(t, kv, "eval_img_per_s"); ev <= 0 {
			t.Errorf("batch %s: eval_img_per_s %v, want positive", b, ev)
		}
		if kv["peer"] != "gahpo" || kv["blas"] != BLASGemm {
			t.Errorf("batch %s: peer %q, blas %q, want gahpo, gemm", b, kv["peer"], kv["blas"])
		}
	}
	if rss := number(t, fields(t, out.String(), "maxrss_mb", "", ""), "maxrss_mb"); rss < 1 {
		t.Errorf("maxrss_mb %v, want at least 1", rss)
	}
}

// TestRunEpoch trains ten batches of 32 with each BLAS and checks that the
// network learned (test accuracy well above chance) and that both BLAS
// train the same network (the same seed gives nearly the same loss).
func TestRunEpoch(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an epoch: -short")
	}
	acc, loss := map[string]float64{}, map[string]float64{}
	for _, blas := range []string{BLASGemm, BLASGonum} {
		var out strings.Builder
		m := &Main{Out: &out, Mode: ModeEpoch, Batch: 32, Images: 330, BLAS: blas, TestImages: 500}
		if err := m.Run(context.Background()); err != nil {
			t.Fatalf("%s: %v", blas, err)
		}
		kv := fields(t, out.String(), "EPOCH", "blas", blas)
		if kv["images"] != "320" {
			t.Errorf("%s: images=%s, want 320 (10 whole batches of 32 out of 330)", blas, kv["images"])
		}
		acc[blas], loss[blas] = number(t, kv, "test_acc"), number(t, kv, "test_loss")
		if acc[blas] < 30 {
			t.Errorf("%s: test accuracy %.2f%% after 320 images, want at least 30%% (chance is 10%%)", blas, acc[blas])
		}
	}
	if d := math.Abs(loss[BLASGemm] - loss[BLASGonum]); d > 0.01 {
		t.Errorf("test loss %v with gemm, %v with gonum: differ by %v, want at most 0.01", loss[BLASGemm], loss[BLASGonum], d)
	}
}

// TestStepFlops checks the flops of a step's products: about 72 MFLOP a
// training image at every batch size (the dense layers' share is per image
// too), as the figures assume.
func TestStepFlops(t *testing.T) {
	for _, b := range []int{1, 10, 64, 128} {
		if per := stepFlops(b) / float64(b) / 1e6; per < 71 || per > 72.5 {
			t.Errorf("batch %d: %.2f MFLOP an image, want 71-72.5", b, per)
		}
	}
}
