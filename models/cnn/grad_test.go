package cnn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// gradients runs one forward and backward pass of a training net over the
// examples idx of s (dropout off, batch mean over len(idx) examples) and
// returns the loss and a copy of the gradients.
func gradients(t *testing.T, n *net, s *mnist.Set, idx []int, scale float64) (float64, [][]float64) {
	t.Helper()
	n.setImages(s, idx)
	n.setTargets(s, idx, scale)
	n.setMasks(nil)
	if err := n.run(); err != nil {
		t.Fatalf("run: %v", err)
	}
	loss, err := n.lossValue()
	if err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(n.w))
	for i := range n.w {
		g, err := n.gradient(i)
		if err != nil {
			t.Fatalf("gradient of %s: %v", n.w[i].Name(), err)
		}
		grads[i] = toFloat64(g)
	}
	return loss, grads
}

func toFloat64(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic("dtype")
}

// TestGradientCheck compares the analytic gradients of the float64 network
// with central finite differences of its loss, on a few weights of every
// tensor, for 3 real images.
func TestGradientCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("finite differences over every weight of the CNN: -short")
	}
	train := loadTrain(t)
	p := newParams(tensor.Float64, 7)
	n, err := newNet(p, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2}
	loss0, grads := gradients(t, n, train, idx, 1.0/3)
	if loss0 < 1.5 || loss0 > 3.5 {
		t.Fatalf("loss of an untrained net = %v, want about ln 10", loss0)
	}
	lossAt := func() float64 {
		l, _ := gradients(t, n, train, idx, 1.0/3)
		return l
	}
	const h = 1e-5
	r := rand.New(rand.NewPCG(1, 2))
	for i, s := range specs {
		w := p[i].Data().([]float64)
		var worst float64
		for k := 0; k < 8; k++ {
			j := r.IntN(len(w))
			if k == 0 { // always check the largest gradient of the tensor
				for jj, g := range grads[i] {
					if math.Abs(g) > math.Abs(grads[i][j]) {
						j = jj
					}
				}
			}
			old := w[j]
			w[j] = old + h
			up := lossAt()
			w[j] = old - h
			down := lossAt()
			w[j] = old
			numeric := (up - down) / (2 * h)
			diff := math.Abs(numeric - grads[i][j])
			if diff > 1e-9+1e-6*math.Abs(numeric) { // seen: at most 4e-11
				t.Errorf("%s[%d]: analytic %.10g, numeric %.10g", s.name, j, grads[i][j], numeric)
			}
			worst = max(worst, diff)
		}
		t.Logf("%-12s worst |analytic - numeric| = %.2g", s.name, worst)
	}
	if l := lossAt(); l != loss0 {
		t.Errorf("loss changed from %v to %v with the weights restored: gradients leak across runs", loss0, l)
	}
}

// TestChunksAndPadding checks that a batch computed in chunks, the last one
// padded, gives the gradients of the whole batch at once: the net's own
// gradients chunk by chunk, and the sums a trainer hands its optimiser.
func TestChunksAndPadding(t *testing.T) {
	train := loadTrain(t)
	p := newParams(tensor.Float64, 3)
	whole, err := newNet(p, 7, true)
	if err != nil {
		t.Fatal(err)
	}
	chunked, err := newNet(p, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{10, 11, 12, 13, 14, 15, 16}
	wantLoss, want := gradients(t, whole, train, idx, 1.0/7)

	// Two chunks, 4 then 3 images plus one padding row.
	first, a := gradients(t, chunked, train, idx[:4], 1.0/7)
	second, b := gradients(t, chunked, train, idx[4:], 1.0/7)
	if d := math.Abs(first + second - wantLoss); d > 1e-12 {
		t.Errorf("chunked loss %v + %v, whole %v", first, second, wantLoss)
	}
	// The trainer's sums over the same two chunks.
	tr := &trainer{net: chunked, model: weightGrads(chunked, true)}
	for k, part := range [][]int{idx[:4], idx[4:]} {
		chunked.setImages(train, part)
		chunked.setTargets(train, part, 1.0/7)
		chunked.setMasks(nil)
		if err := chunked.run(); err != nil {
			t.Fatal(err)
		}
		if err := tr.addChunk(k == 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range want {
		g, err := tr.model[i].Grad()
		if err != nil {
			t.Fatal(err)
		}
		sum := g.(*tensor.Dense).Data().([]float64)
		for j := range want[i] {
			if d := math.Abs(a[i][j] + b[i][j] - want[i][j]); d > 1e-12+1e-9*math.Abs(want[i][j]) {
				t.Fatalf("%s[%d]: chunks' gradients %v + %v, whole %v", specs[i].name, j, a[i][j], b[i][j], want[i][j])
			}
			if d := math.Abs(sum[j] - want[i][j]); d > 1e-12+1e-9*math.Abs(want[i][j]) {
				t.Fatalf("%s[%d]: trainer's sum over the chunks %v, whole %v", specs[i].name, j, sum[j], want[i][j])
			}
		}
	}
}

func TestSetMask(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, p := range []float64{DropoutConv, DropoutFC} {
		m := make([]float32, 100000)
		setMask(m, r, p)
		zeros := 0
		for _, v := range m {
			switch v {
			case 0:
				zeros++
			case float32(1 / (1 - p)):
			default:
				t.Fatalf("p %v: mask value %v", p, v)
			}
		}
		// Binomial(100000, p): 5 standard deviations are under 0.8%.
		if got := float64(zeros) / float64(len(m)); math.Abs(got-p) > 0.008 {
			t.Errorf("p %v: %.4f of the mask dropped", p, got)
		}
	}
}

// TestAdadelta checks the solver on two scalar weights over three steps
// against the update written out in float64, with weight decay, and that
// it zeroes the gradients and reports a non-finite weight.
func TestAdadelta(t *testing.T) {
	g := G.NewGraph()
	wt := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{0.5, -1}))
	w := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("w"), G.WithValue(wt))
	sq, err := G.Square(w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(sq) // gradient 2w
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w))
	opt := NewAdadelta(0.5, 0.1)
	ref := []float64{0.5, -1}
	var v, u [2]float64
	for step := range 3 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
		if err := opt.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
			t.Fatal(err)
		}
		for j := range ref {
			gj := 2*ref[j] + 0.1*ref[j]
			v[j] = 0.9*v[j] + 0.1*gj*gj
			d := math.Sqrt(u[j]+1e-6) / math.Sqrt(v[j]+1e-6) * gj
			u[j] = 0.9*u[j] + 0.1*d*d
			ref[j] -= 0.5 * d
		}
		got := wt.Data().([]float64)
		for j := range ref {
			if math.Abs(got[j]-ref[j]) > 1e-15 {
				t.Errorf("step %d: w[%d] = %v, want %v", step+1, j, got[j], ref[j])
			}
		}
		gr, _ := w.Grad()
		for _, x := range gr.Data().([]float64) {
			if x != 0 {
				t.Fatalf("step %d: gradient %v left after the step", step+1, gr.Data())
			}
		}
	}
	wt.Data().([]float64)[1] = math.Inf(1)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	vm.Reset()
	if err := opt.Step(G.NodesToValueGrads(G.Nodes{w})); err == nil {
		t.Error("Step left an infinite weight without error")
	}
}

// TestAdadeltaFloat32 checks the float32 update the training runs (vec's
// loop, the tensor shared among goroutines) against a float64 reference,
// on a tensor large enough to be split, for a few steps.
func TestAdadeltaFloat32(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const n = 3*16384 + 5 // three parts and a tail that is not a multiple of 8
	init := make([]float32, n)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range init {
		init[i] = float32(2*r.Float64() - 1)
	}
	g := G.NewGraph()
	wt := tensor.New(tensor.WithShape(n), tensor.WithBacking(append([]float32(nil), init...)))
	w := G.NewVector(g, tensor.Float32, G.WithShape(n), G.WithName("w"), G.WithValue(wt))
	sq, err := G.Square(w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(sq) // gradient 2w
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w))
	defer vm.Close()
	opt := NewAdadelta(0.5, 0.1)
	ref := make([]float64, n)
	for i, v := range init {
		ref[i] = float64(v)
	}
	v, u := make([]float64, n), make([]float64, n)
	for step := range 3 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
		if err := opt.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
			t.Fatal(err)
		}
		for j := range ref {
			gj := 2*ref[j] + 0.1*ref[j]
			v[j] = 0.9*v[j] + 0.1*gj*gj
			d := math.Sqrt(u[j]+1e-6) / math.Sqrt(v[j]+1e-6) * gj
			u[j] = 0.9*u[j] + 0.1*d*d
			ref[j] -= 0.5 * d
		}
		got := wt.Data().([]float32)
		for j := range ref {
			if math.Abs(float64(got[j])-ref[j]) > 1e-5 {
				t.Fatalf("step %d: w[%d] = %v, want %v", step+1, j, got[j], ref[j])
			}
		}
		gr, _ := w.Grad()
		for j, x := range gr.Data().([]float32) {
			if x != 0 {
				t.Fatalf("step %d: gradient [%d] = %v left after the step", step+1, j, x)
			}
		}
	}
}
