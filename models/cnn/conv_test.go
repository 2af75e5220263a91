package cnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// evalOp builds, in a new graph, out = build(inputs) and the loss
// Σ out ⊙ r, runs it once, and returns out, the loss and the gradients of
// the loss with respect to inputs[i] for each i in wrt.
func evalOp(t *testing.T, inputs []*tensor.Dense, r *tensor.Dense, wrt []int, build func(in G.Nodes) (*G.Node, error)) (*tensor.Dense, float64, []*tensor.Dense) {
	t.Helper()
	g := G.NewGraph()
	nodes := make(G.Nodes, len(inputs))
	for i, v := range inputs {
		nodes[i] = G.NewTensor(g, v.Dtype(), v.Dims(), G.WithShape(v.Shape()...), G.WithName(fmt.Sprint("in", i)), G.WithValue(v.Clone().(*tensor.Dense)))
	}
	out, err := build(nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	rn := G.NewTensor(g, r.Dtype(), r.Dims(), G.WithShape(r.Shape()...), G.WithName("r"), G.WithValue(r))
	prod, err := G.HadamardProd(out, rn)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	var outV, lossV G.Value
	G.Read(out, &outV)
	G.Read(loss, &lossV)
	var diff G.Nodes
	for _, i := range wrt {
		diff = append(diff, nodes[i])
	}
	if len(diff) > 0 {
		if _, err := G.Grad(loss, diff...); err != nil {
			t.Fatalf("grad: %v", err)
		}
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(diff...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	l, err := scalar(lossV)
	if err != nil {
		t.Fatal(err)
	}
	grads := make([]*tensor.Dense, len(diff))
	for i, n := range diff {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("gradient %d: %v", i, err)
		}
		grads[i] = gv.(*tensor.Dense).Clone().(*tensor.Dense)
	}
	return outV.(*tensor.Dense).Clone().(*tensor.Dense), l, grads
}

// random returns a tensor of the shape with values uniform in [-1, 1).
func random(r *rand.Rand, dt tensor.Dtype, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(2*r.Float64() - 1)
		}
	case []float64:
		for i := range d {
			d[i] = 2*r.Float64() - 1
		}
	}
	return t
}

// nhwcToNCHW returns the NCHW copy of an NHWC tensor.
func nhwcToNCHW(t *testing.T, x *tensor.Dense) *tensor.Dense {
	t.Helper()
	y := x.Clone().(*tensor.Dense)
	if err := y.T(0, 3, 1, 2); err != nil {
		t.Fatal(err)
	}
	return y.Materialize().(*tensor.Dense)
}

// closeTo compares got with want, both flattened, to within tol relative to
// the largest |want|, and reports the worst difference.
func closeTo(t *testing.T, what string, got, want *tensor.Dense, tol float64) {
	t.Helper()
	g, w := toFloat64(got), toFloat64(want)
	if !got.Shape().Eq(want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	var worst, scale float64
	for i := range w {
		worst = max(worst, math.Abs(g[i]-w[i]))
		scale = max(scale, math.Abs(w[i]))
	}
	if worst > tol*max(scale, 1e-12) || math.IsNaN(worst) {
		t.Errorf("%s: max |got - want| = %.3g (max |want| %.3g), want <= %g relative", what, worst, scale, tol)
	}
}

// tolerance of a dtype when comparing two orders of summation.
func tolerance(dt tensor.Dtype) float64 {
	if dt == tensor.Float32 {
		return 2e-5
	}
	return 1e-12
}

// TestConvMatchesGorgonia compares the custom convolution (output and the
// gradients of filters, bias and input) with gorgonia's Conv2d, bias
// broadcast and ReLU on random inputs, in both precisions and on odd
// shapes, with as many cores as images and more.
func TestConvMatchesGorgonia(t *testing.T) {
	if testing.Short() {
		t.Skip("compares the convolution with gorgonia's on many shapes: -short")
	}
	tests := []struct {
		b, h, w, cin, cout int
		procs              int
	}{
		{1, 5, 5, 1, 3, 1},
		{3, 7, 6, 2, 5, 2},
		{5, 28, 28, 1, 32, 2},  // conv1
		{2, 26, 26, 32, 64, 3}, // conv2, more cores than needed
		{4, 9, 11, 3, 7, 4},
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, tt := range tests {
			for _, relu := range []bool{true, false} {
				name := fmt.Sprintf("%v/b%d_%dx%dx%d_to%d_p%d/relu=%v", dt, tt.b, tt.h, tt.w, tt.cin, tt.cout, tt.procs, relu)
				t.Run(name, func(t *testing.T) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tt.procs))
					r := rand.New(rand.NewPCG(uint64(tt.b), uint64(tt.cout)))
					x := random(r, dt, tt.b, tt.h, tt.w, tt.cin)
					w := random(r, dt, tt.cout, tt.cin, 3, 3)
					b := random(r, dt, 1, tt.cout, 1, 1)
					rw := random(r, dt, tt.b, tt.h-2, tt.w-2, tt.cout)
					out, loss, grads := evalOp(t, []*tensor.Dense{x, w, b}, rw, []int{0, 1, 2}, func(in G.Nodes) (*G.Node, error) {
						return G.ApplyOp(convOp{relu: relu, inputGrad: true}, in[0], in[1], in[2])
					})
					refOut, refLoss, refGrads := evalOp(t, []*tensor.Dense{nhwcToNCHW(t, x), w, b}, nhwcToNCHW(t, rw), []int{0, 1, 2}, func(in G.Nodes) (*G.Node, error) {
						if relu {
							return convReLUReference(in[0], in[1], in[2], nil)
						}
						return convReference(in[0], in[1], in[2])
					})
					tol := tolerance(dt)
					closeTo(t, "output", nhwcToNCHW(t, out), refOut, tol)
					if math.Abs(loss-refLoss) > tol*max(1, math.Abs(refLoss)) {
						t.Errorf("loss %v, reference %v", loss, refLoss)
					}
					closeTo(t, "input gradient", nhwcToNCHW(t, grads[0]), refGrads[0], tol)
					closeTo(t, "filter gradient", grads[1], refGrads[1], tol)
					closeTo(t, "bias gradient", grads[2], refGrads[2], tol)
				})
			}
		}
	}
}

// TestConvFirstLayerHasNoInputGradient checks that the first layer's
// convolution asks for no gradient of the image, and still gives the
// filters' and bias's.
func TestConvFirstLayerHasNoInputGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x, w, b := random(r, tensor.Float64, 2, 6, 6, 1), random(r, tensor.Float64, 4, 1, 3, 3), random(r, tensor.Float64, 1, 4, 1, 1)
	rw := random(r, tensor.Float64, 2, 4, 4, 4)
	if d := (convOp{relu: true}).DiffWRT(3); d[0] || !d[1] || !d[2] {
		t.Fatalf("DiffWRT = %v, want [false true true]", d)
	}
	_, _, grads := evalOp(t, []*tensor.Dense{x, w, b}, rw, []int{1, 2}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{relu: true}, in[0], in[1], in[2])
	})
	_, _, all := evalOp(t, []*tensor.Dense{x, w, b}, rw, []int{0, 1, 2}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{relu: true, inputGrad: true}, in[0], in[1], in[2])
	})
	closeTo(t, "filter gradient", grads[0], all[1], 1e-15)
	closeTo(t, "bias gradient", grads[1], all[2], 1e-15)
}

// TestMaxPoolMatchesGorgonia compares the custom max-pool (NHWC in, NCHW
// out) and its gradient with gorgonia's MaxPool2D on random inputs.
func TestMaxPoolMatchesGorgonia(t *testing.T) {
	tests := []struct{ b, h, w, c, procs int }{
		{1, 2, 2, 1, 1},
		{3, 4, 6, 5, 2},
		{4, 24, 24, 64, 2}, // the network's
		{2, 8, 8, 3, 4},
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, tt := range tests {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/b%d_%dx%dx%d_p%d/relu=%v", dt, tt.b, tt.h, tt.w, tt.c, tt.procs, relu), func(t *testing.T) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tt.procs))
					r := rand.New(rand.NewPCG(uint64(tt.h), uint64(tt.c)))
					x := random(r, dt, tt.b, tt.h, tt.w, tt.c)
					rw := random(r, dt, tt.b, tt.c, tt.h/2, tt.w/2)
					out, _, grads := evalOp(t, []*tensor.Dense{x}, rw, []int{0}, func(in G.Nodes) (*G.Node, error) {
						return G.ApplyOp(maxPoolOp{relu: relu}, in[0])
					})
					refOut, _, refGrads := evalOp(t, []*tensor.Dense{nhwcToNCHW(t, x)}, rw, []int{0}, func(in G.Nodes) (*G.Node, error) {
						h := in[0]
						if relu {
							var err error
							if h, err = G.Rectify(h); err != nil {
								return nil, err
							}
						}
						return G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
					})
					closeTo(t, "output", out, refOut, 0)
					closeTo(t, "input gradient", nhwcToNCHW(t, grads[0]), refGrads[0], 0)
				})
			}
		}
	}
}

// TestOpsFiniteDifferences checks the gradients of the custom ops against
// central finite differences of the loss Σ out ⊙ r, in float64, on every
// input value of small random tensors.
func TestOpsFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	tests := []struct {
		name   string
		inputs []*tensor.Dense
		rw     *tensor.Dense
		build  func(in G.Nodes) (*G.Node, error)
	}{
		{
			"conv+ReLU",
			[]*tensor.Dense{random(r, tensor.Float64, 2, 5, 4, 2), random(r, tensor.Float64, 3, 2, 3, 3), random(r, tensor.Float64, 1, 3, 1, 1)},
			random(r, tensor.Float64, 2, 3, 2, 3),
			func(in G.Nodes) (*G.Node, error) {
				return G.ApplyOp(convOp{relu: true, inputGrad: true}, in[0], in[1], in[2])
			},
		},
		{
			"conv",
			[]*tensor.Dense{random(r, tensor.Float64, 1, 4, 5, 3), random(r, tensor.Float64, 2, 3, 3, 3), random(r, tensor.Float64, 1, 2, 1, 1)},
			random(r, tensor.Float64, 1, 2, 3, 2),
			func(in G.Nodes) (*G.Node, error) {
				return G.ApplyOp(convOp{inputGrad: true}, in[0], in[1], in[2])
			},
		},
		{
			"max-pool",
			[]*tensor.Dense{random(r, tensor.Float64, 2, 4, 6, 3)},
			random(r, tensor.Float64, 2, 3, 2, 3),
			func(in G.Nodes) (*G.Node, error) { return G.ApplyOp(maxPoolOp{}, in[0]) },
		},
		{
			"ReLU+max-pool",
			[]*tensor.Dense{random(r, tensor.Float64, 2, 4, 6, 3)},
			random(r, tensor.Float64, 2, 3, 2, 3),
			func(in G.Nodes) (*G.Node, error) { return G.ApplyOp(maxPoolOp{relu: true}, in[0]) },
		},
		{
			"dropout",
			[]*tensor.Dense{random(r, tensor.Float64, 3, 7)},
			random(r, tensor.Float64, 3, 7),
			func(in G.Nodes) (*G.Node, error) {
				m := tensor.New(tensor.WithShape(3, 7), tensor.WithBacking([]float64{
					0, 2, 2, 0, 2, 2, 2, 0, 0, 2, 2, 2, 0, 2, 2, 2, 2, 0, 0, 0, 2}))
				return dropout(in[0], G.NewTensor(in[0].Graph(), tensor.Float64, 2, G.WithShape(3, 7), G.WithName("mask"), G.WithValue(m)))
			},
		},
		{
			"log-softmax",
			[]*tensor.Dense{random(r, tensor.Float64, 3, 7)},
			random(r, tensor.Float64, 3, 7),
			func(in G.Nodes) (*G.Node, error) { return logSoftmax(in[0]) },
		},
		{
			"ReLU",
			[]*tensor.Dense{random(r, tensor.Float64, 3, 7)},
			random(r, tensor.Float64, 3, 7),
			func(in G.Nodes) (*G.Node, error) { return relu(in[0], nil) },
		},
	}
	const h = 1e-6
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrt := make([]int, len(tt.inputs))
			for i := range wrt {
				wrt[i] = i
			}
			_, _, grads := evalOp(t, tt.inputs, tt.rw, wrt, tt.build)
			lossAt := func() float64 {
				_, l, _ := evalOp(t, tt.inputs, tt.rw, nil, tt.build)
				return l
			}
			checked := 0
			for i, in := range tt.inputs {
				v := in.Data().([]float64)
				g := grads[i].Data().([]float64)
				for j := range v {
					old := v[j]
					v[j] = old + h
					up := lossAt()
					v[j] = old - h
					down := lossAt()
					v[j] = old
					numeric := (up - down) / (2 * h)
					if math.Abs(numeric-g[j]) > 1e-6+1e-6*math.Abs(numeric) {
						t.Errorf("input %d [%d]: analytic %.10g, numeric %.10g", i, j, g[j], numeric)
					}
					checked++
				}
			}
			t.Logf("%d gradient values checked", checked)
		})
	}
}

// TestNetMatchesReference compares the whole network built on the custom
// ops with the same network built on gorgonia's own, on real images with
// dropout on: the loss and every gradient, in both precisions.
func TestNetMatchesReference(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole network against the reference: -short")
	}
	train := loadTrain(t)
	idx := []int{3, 1, 4, 1, 5, 9}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			p := newParams(dt, 11)
			fast, err := newNet(p, len(idx), true)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := buildNet(p, len(idx), true, forwardReference)
			if err != nil {
				t.Fatal(err)
			}
			var losses [2]float64
			var grads [2][][]float64
			for i, n := range []*net{fast, ref} {
				n.setImages(train, idx)
				n.setTargets(train, idx, 1.0/float64(len(idx)))
				n.setMasks(rand.New(rand.NewPCG(9, 9))) // the same masks for both
				if err := n.run(); err != nil {
					t.Fatal(err)
				}
				if losses[i], err = n.lossValue(); err != nil {
					t.Fatal(err)
				}
				for j := range n.w {
					g, err := n.gradient(j)
					if err != nil {
						t.Fatal(err)
					}
					grads[i] = append(grads[i], toFloat64(g))
				}
			}
			tol := tolerance(dt) * 10
			if math.Abs(losses[0]-losses[1]) > tol*losses[1] {
				t.Errorf("loss %v, reference %v", losses[0], losses[1])
			}
			for i, s := range specs {
				var worst, scale float64
				for j, want := range grads[1][i] {
					worst = max(worst, math.Abs(grads[0][i][j]-want))
					scale = max(scale, math.Abs(want))
				}
				if worst > tol*scale {
					t.Errorf("%s: max |fast - reference| = %.3g (max %.3g)", s.name, worst, scale)
				}
			}
		})
	}
}

// TestKeptBuffersDoNotLeak checks that the outputs the ops keep from one
// run to the next carry nothing over: a net that ran another batch first
// gives exactly the loss and gradients of a fresh net, in both precisions
// (the float64 ops clear what the float32 ones overwrite).
func TestKeptBuffersDoNotLeak(t *testing.T) {
	train := loadTrain(t)
	first, second := []int{20, 21, 22, 23}, []int{7, 8, 9, 10}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			p := newParams(dt, 4)
			used, err := newNet(p, 4, true)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := newNet(p, 4, true)
			if err != nil {
				t.Fatal(err)
			}
			run := func(n *net, idx []int) (float64, [][]float64) {
				n.setImages(train, idx)
				n.setTargets(train, idx, 0.25)
				n.setMasks(rand.New(rand.NewPCG(1, uint64(idx[0]))))
				if err := n.run(); err != nil {
					t.Fatal(err)
				}
				loss, err := n.lossValue()
				if err != nil {
					t.Fatal(err)
				}
				var grads [][]float64
				for j := range n.w {
					g, err := n.gradient(j)
					if err != nil {
						t.Fatal(err)
					}
					grads = append(grads, toFloat64(g))
				}
				return loss, grads
			}
			run(used, first)
			gotLoss, got := run(used, second)
			wantLoss, want := run(fresh, second)
			if gotLoss != wantLoss {
				t.Errorf("loss after another batch %v, fresh %v", gotLoss, wantLoss)
			}
			for i := range want {
				for j := range want[i] {
					if got[i][j] != want[i][j] {
						t.Fatalf("%s[%d]: gradient after another batch %v, fresh %v", specs[i].name, j, got[i][j], want[i][j])
					}
				}
			}
		})
	}
}

func TestFillRows(t *testing.T) {
	row := []float32{1, 2, 3}
	for _, rows := range []int{0, 1, 2, 3, 5, 8, 13, 576} {
		o := make([]float32, rows*len(row))
		for i := range o {
			o[i] = -1
		}
		fillRows(o, row)
		for i, v := range o {
			if v != row[i%len(row)] {
				t.Fatalf("%d rows: o[%d] = %v, want %v", rows, i, v, row[i%len(row)])
			}
		}
	}
	fillRows(make([]float32, 4), nil) // no row: returns, leaving o
}
