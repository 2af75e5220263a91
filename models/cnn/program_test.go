package cnn

import (
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestProgramIsTheTapeMachine runs the same graphs with a program and with
// gorgonia's tape machine: the loss, every gradient and the
// log-probabilities are the same to the bit.
func TestProgramIsTheTapeMachine(t *testing.T) {
	train := loadTrain(t)
	for _, tc := range []struct {
		name  string
		batch int
		train bool
		dtype tensor.Dtype
	}{
		{"train-batch-3-float32", 3, true, tensor.Float32},
		{"train-batch-8-float64", 8, true, tensor.Float64},
		{"eval-batch-5-float32", 5, false, tensor.Float32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := newNet(newParams(tc.dtype, 7), tc.batch, tc.train)
			if err != nil {
				t.Fatal(err)
			}
			idx := []int{4, 8, 15, 16, 23, 42, 108, 7}[:tc.batch]
			n.setImages(train, idx)
			if tc.train {
				n.setTargets(train, idx, 1/float64(len(idx)))
				n.setMasks(rand.New(rand.NewPCG(1, 2)))
			}
			if err := n.run(); err != nil {
				t.Fatal(err)
			}
			// The program's values, copied: the tape machine's run
			// overwrites the ops' buffers.
			var want [][]float64
			read := func(v G.Value) []float64 {
				d := v.(*tensor.Dense)
				if tc.dtype == tensor.Float32 {
					var out []float64
					for _, x := range values[float32](d) {
						out = append(out, float64(x))
					}
					return out
				}
				return slices.Clone(values[float64](d))
			}
			nodes := append(G.Nodes{n.logp}, n.grads...)
			for _, node := range nodes {
				v, err := n.prog.value(node)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, read(v))
			}
			var loss float64
			if tc.train {
				if loss, err = n.lossValue(); err != nil {
					t.Fatal(err)
				}
			}

			vm := G.NewTapeMachine(n.w[0].Graph())
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			for i, node := range nodes {
				if got := read(node.Value()); !slices.Equal(got, want[i]) {
					t.Errorf("%v: the tape machine computes another value than the program", node.Name())
				}
			}
			if tc.train {
				got, err := scalar(n.loss.Value())
				if err != nil {
					t.Fatal(err)
				}
				if got != loss || loss <= 0 {
					t.Errorf("loss: tape machine %v, program %v", got, loss)
				}
			}
		})
	}
}

// TestProgramRefusesAnInputWithoutValue: a graph whose input was never
// given a value does not compile.
func TestProgramRefusesAnInputWithoutValue(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 2), G.WithName("x"))
	if _, err := relu(x, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := compile(g); err == nil {
		t.Fatal("compiled a graph whose input has no value")
	}
}
