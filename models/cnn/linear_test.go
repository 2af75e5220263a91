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

// TestLinearMatchesGorgonia compares the linear layer (output and the
// gradients of input, weights and bias) with gorgonia's Reshape, Mul,
// BroadcastAdd and ReLU, on random inputs in both precisions, with a 2-d
// and a 4-d input.
func TestLinearMatchesGorgonia(t *testing.T) {
	tests := []struct {
		x       []int
		out     int
		procs   int
		reshape bool
	}{
		{[]int{1, 3}, 2, 1, false},
		{[]int{5, 17}, 10, 2, false},
		{[]int{6, 4, 3, 3}, 9, 2, true},
		{[]int{64, 64, 12, 12}, 128, 2, true}, // fc1
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, tt := range tests {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v_to%d/relu=%v", dt, tt.x, tt.out, relu), func(t *testing.T) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tt.procs))
					r := rand.New(rand.NewPCG(uint64(tt.x[0]), uint64(tt.out)))
					in := tensor.Shape(tt.x).TotalSize() / tt.x[0]
					x, w, b := random(r, dt, tt.x...), random(r, dt, in, tt.out), random(r, dt, 1, tt.out)
					rw := random(r, dt, tt.x[0], tt.out)
					inputs := []*tensor.Dense{x, w, b}
					out, loss, grads := evalOp(t, inputs, rw, []int{0, 1, 2}, func(n G.Nodes) (*G.Node, error) {
						return newLinear(n[0], n[1], n[2], relu, nil)
					})
					refOut, refLoss, refGrads := evalOp(t, inputs, rw, []int{0, 1, 2}, func(n G.Nodes) (*G.Node, error) {
						h := n[0]
						var err error
						if tt.reshape {
							if h, err = G.Reshape(h, tensor.Shape{tt.x[0], in}); err != nil {
								return nil, err
							}
						}
						if h, err = linear(h, n[1], n[2]); err != nil || !relu {
							return h, err
						}
						return G.Rectify(h)
					})
					tol := tolerance(dt)
					closeTo(t, "output", out, refOut, tol)
					if math.Abs(loss-refLoss) > tol*max(1, math.Abs(refLoss)) {
						t.Errorf("loss %v, reference %v", loss, refLoss)
					}
					for i, what := range []string{"input", "weight", "bias"} {
						closeTo(t, what+" gradient", grads[i], refGrads[i], tol)
					}
				})
			}
		}
	}
}

// TestLinearFiniteDifferences checks the linear layer's gradients (ReLU and
// a 4-d input included) against central finite differences of Σ out ⊙ r.
func TestLinearFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	dt := tensor.Float64
	for _, relu := range []bool{false, true} {
		inputs := []*tensor.Dense{random(r, dt, 3, 2, 2, 2), random(r, dt, 8, 5), random(r, dt, 1, 5)}
		rw := random(r, dt, 3, 5)
		build := func(n G.Nodes) (*G.Node, error) { return newLinear(n[0], n[1], n[2], relu, nil) }
		_, _, grads := evalOp(t, inputs, rw, []int{0, 1, 2}, build)
		const h = 1e-6
		for i, in := range inputs {
			v, g := in.Data().([]float64), grads[i].Data().([]float64)
			for j := range v {
				old := v[j]
				v[j] = old + h
				_, up, _ := evalOp(t, inputs, rw, nil, build)
				v[j] = old - h
				_, down, _ := evalOp(t, inputs, rw, nil, build)
				v[j] = old
				if numeric := (up - down) / (2 * h); math.Abs(numeric-g[j]) > 1e-6+1e-6*math.Abs(numeric) {
					t.Errorf("relu %v, input %d [%d]: analytic %.10g, numeric %.10g", relu, i, j, g[j], numeric)
				}
			}
		}
	}
}

// TestLossMatchesGorgonia compares the log-softmax (output and the
// gradient of the logits) with gorgonia's LogSoftMax, and the loss Σ logp ⊙
// y built on it (value and gradient) with gorgonia's HadamardProd and Sum,
// in both precisions.
func TestLossMatchesGorgonia(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, rows := range []int{1, 7, 128} {
			t.Run(fmt.Sprintf("%v/rows=%d", dt, rows), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(rows), 10))
				z := random(r, dt, rows, 10)
				if d, ok := z.Data().([]float64); ok {
					d[0] = 30 // a large logit: the log-sum-exp must not overflow
				}
				y, rw := random(r, dt, rows, 10), random(r, dt, rows, 10)
				tol := tolerance(dt)
				out, _, grads := evalOp(t, []*tensor.Dense{z}, rw, []int{0}, func(n G.Nodes) (*G.Node, error) { return logSoftmax(n[0]) })
				refOut, _, refGrads := evalOp(t, []*tensor.Dense{z}, rw, []int{0}, func(n G.Nodes) (*G.Node, error) { return G.LogSoftMax(n[0]) })
				closeTo(t, "log-softmax", out, refOut, tol)
				closeTo(t, "log-softmax gradient", grads[0], refGrads[0], tol)
				var losses [2]float64
				var lossGrads [2]*tensor.Dense
				for i, build := range []func(lp, y *G.Node) (*G.Node, error){
					weightedSum,
					func(lp, y *G.Node) (*G.Node, error) {
						p, err := G.HadamardProd(lp, y)
						if err != nil {
							return nil, err
						}
						return G.Sum(p)
					},
				} {
					losses[i], lossGrads[i] = lossAndGradient(t, z, y, build)
				}
				if math.Abs(losses[0]-losses[1]) > tol*max(1, math.Abs(losses[1])) {
					t.Errorf("loss %v, reference %v", losses[0], losses[1])
				}
				closeTo(t, "loss gradient", lossGrads[0], lossGrads[1], tol)
			})
		}
	}
}

// lossAndGradient runs build(logSoftmax(z), y) and returns its value and
// its gradient with respect to z.
func lossAndGradient(t *testing.T, z, y *tensor.Dense, build func(lp, y *G.Node) (*G.Node, error)) (float64, *tensor.Dense) {
	t.Helper()
	g := G.NewGraph()
	zn := G.NewTensor(g, z.Dtype(), 2, G.WithShape(z.Shape()...), G.WithName("z"), G.WithValue(z.Clone().(*tensor.Dense)))
	yn := G.NewTensor(g, y.Dtype(), 2, G.WithShape(y.Shape()...), G.WithName("y"), G.WithValue(y.Clone().(*tensor.Dense)))
	lp, err := logSoftmax(zn)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := build(lp, yn)
	if err != nil {
		t.Fatal(err)
	}
	var lv G.Value
	G.Read(loss, &lv)
	if _, err := G.Grad(loss, zn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(zn))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	l, err := scalar(lv)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := zn.Grad()
	if err != nil {
		t.Fatal(err)
	}
	return l, gv.(*tensor.Dense).Clone().(*tensor.Dense)
}
