package cnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/gemm"
)

// layered builds conv (ReLU), conv, ReLU max-pool from this package's
// per-layer ops: what featOp computes in one.
func layered(in G.Nodes) (*G.Node, error) {
	h, err := G.ApplyOp(convOp{relu: true}, in[0], in[1], in[2])
	if err != nil {
		return nil, err
	}
	if h, err = G.ApplyOp(convOp{inputGrad: true}, h, in[3], in[4]); err != nil {
		return nil, err
	}
	return G.ApplyOp(maxPoolOp{relu: true}, h)
}

// layeredReference builds the same with gorgonia's own Conv2d, bias
// broadcast, ReLU and MaxPool2D, on NCHW images.
func layeredReference(in G.Nodes) (*G.Node, error) {
	h, err := convReLUReference(in[0], in[1], in[2], nil)
	if err != nil {
		return nil, err
	}
	if h, err = convReLUReference(h, in[3], in[4], nil); err != nil {
		return nil, err
	}
	return G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
}

// TestFeaturesMatchLayers compares the fused feature extractor (output and
// the gradients of both filters and biases) with the per-layer ops and
// with gorgonia's reference ops, on random inputs in both precisions, on
// odd shapes and with more cores than images.
func TestFeaturesMatchLayers(t *testing.T) {
	tests := []struct{ b, h, w, cin, c1, c2, procs int }{
		{1, 6, 6, 1, 2, 3, 1},
		{3, 8, 10, 2, 4, 5, 2},
		{2, 28, 28, 1, 32, 64, 2}, // the network's
		{2, 12, 8, 3, 5, 7, 4},
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, tt := range tests {
			name := fmt.Sprintf("%v/b%d_%dx%dx%d_%d_%d_p%d", dt, tt.b, tt.h, tt.w, tt.cin, tt.c1, tt.c2, tt.procs)
			t.Run(name, func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tt.procs))
				r := rand.New(rand.NewPCG(uint64(tt.b), uint64(tt.c2)))
				x := random(r, dt, tt.b, tt.h, tt.w, tt.cin)
				w1, b1 := random(r, dt, tt.c1, tt.cin, 3, 3), random(r, dt, 1, tt.c1, 1, 1)
				w2, b2 := random(r, dt, tt.c2, tt.c1, 3, 3), random(r, dt, 1, tt.c2, 1, 1)
				rw := random(r, dt, tt.b, tt.c2, (tt.h-4)/2, (tt.w-4)/2)
				inputs := []*tensor.Dense{x, w1, b1, w2, b2}
				wrt := []int{1, 2, 3, 4}
				out, loss, grads := evalOp(t, inputs, rw, wrt, func(in G.Nodes) (*G.Node, error) {
					return newFeatures(in[0], in[1:], nil)
				})
				lOut, lLoss, lGrads := evalOp(t, inputs, rw, wrt, layered)
				refIn := append([]*tensor.Dense{nhwcToNCHW(t, x)}, inputs[1:]...)
				rOut, rLoss, rGrads := evalOp(t, refIn, rw, wrt, layeredReference)
				tol := tolerance(dt)
				closeTo(t, "output vs layers", out, lOut, tol)
				closeTo(t, "output vs gorgonia", out, rOut, tol)
				for _, l := range []float64{lLoss, rLoss} {
					if math.Abs(loss-l) > tol*max(1, math.Abs(l)) {
						t.Errorf("loss %v, layers %v, gorgonia %v", loss, lLoss, rLoss)
					}
				}
				for i, what := range []string{"conv1 filters", "conv1 bias", "conv2 filters", "conv2 bias"} {
					closeTo(t, what+" gradient vs layers", grads[i], lGrads[i], tol)
					closeTo(t, what+" gradient vs gorgonia", grads[i], rGrads[i], 10*tol)
				}
			})
		}
	}
}

// TestFeaturesFiniteDifferences checks the fused op's weight gradients
// against central finite differences of Σ out ⊙ r, in float64, on every
// weight of a small random extractor.
func TestFeaturesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	dt := tensor.Float64
	inputs := []*tensor.Dense{random(r, dt, 2, 8, 6, 2), random(r, dt, 3, 2, 3, 3), random(r, dt, 1, 3, 1, 1),
		random(r, dt, 4, 3, 3, 3), random(r, dt, 1, 4, 1, 1)}
	rw := random(r, dt, 2, 4, 2, 1)
	build := func(in G.Nodes) (*G.Node, error) { return newFeatures(in[0], in[1:], nil) }
	wrt := []int{1, 2, 3, 4}
	_, _, grads := evalOp(t, inputs, rw, wrt, build)
	const h = 1e-6
	checked := 0
	for gi, i := range wrt {
		v := inputs[i].Data().([]float64)
		g := grads[gi].Data().([]float64)
		for j := range v {
			old := v[j]
			v[j] = old + h
			_, up, _ := evalOp(t, inputs, rw, nil, build)
			v[j] = old - h
			_, down, _ := evalOp(t, inputs, rw, nil, build)
			v[j] = old
			numeric := (up - down) / (2 * h)
			if math.Abs(numeric-g[j]) > 1e-6+1e-6*math.Abs(numeric) {
				t.Errorf("input %d [%d]: analytic %.10g, numeric %.10g", i, j, g[j], numeric)
			}
			checked++
		}
	}
	t.Logf("%d gradient values checked", checked)
}

// TestStepAllocatesLittle checks that a training step, once warm, keeps
// its buffers: at batch 64 it used to allocate 7.3 MB (gorgonia's linear
// layers, log-softmax and loss), then some 450 objects a step (gorgonia's
// tape machine and tensor's Data, before program and values, then par's
// sections' jobs and closures); now nothing, also while garbage is
// collected every millisecond, as other goroutines of a worker make it be
// (with sync.Pools, which collections empty, it allocated 40 objects a
// step under those collections, and 1 a step now and then in the whole
// suite).
func TestStepAllocatesLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 30 steps")
	}
	if gemm.Kernel() == gemm.KernelGonum {
		t.Skip("gonum's Sgemm (purego, or a CPU without AVX2) allocates its own buffers at every product")
	}
	if raceEnabled {
		t.Skip("the race detector allocates on its own: allocation counts mean nothing under -race")
	}
	train := loadTrain(t)
	tr, err := newTrainer(newParams(tensor.Float32, 1), Config{BatchSize: 64, LR: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, 64)
	step := func(i int) {
		for j := range idx {
			idx[j] = (i*64 + j) % train.N
		}
		if _, err := tr.step(train, idx, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		step(i)
	}
	const steps = 25
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // a collection every millisecond; allocates nothing itself
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, objects := ms.TotalAlloc, ms.Mallocs
	for i := range steps {
		step(5 + i)
	}
	runtime.ReadMemStats(&ms)
	close(stop)
	<-stopped
	per, perObjects := (ms.TotalAlloc-before)/steps, (ms.Mallocs-objects)/steps
	t.Logf("%d bytes, %d objects allocated per step", per, perObjects)
	if per > 200<<10 {
		t.Errorf("%d bytes allocated per step, want at most 200 KiB", per)
	}
	if perObjects > 0 {
		t.Errorf("%d objects allocated per step, want none", perObjects)
	}
}
