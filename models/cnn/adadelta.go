package cnn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/vec"
)

// Adadelta is PyTorch's Adadelta optimiser as a gorgonia Solver. For each
// weight w with gradient g, per step:
//
//	g += WeightDecay·w
//	v  = Rho·v + (1-Rho)·g²
//	d  = √((u+Eps) / (v+Eps)) · g
//	u  = Rho·u + (1-Rho)·d²
//	w -= LR·d
//
// in the precision of the weights (float32 or float64); PyTorch divides
// √(u+Eps) by √(v+Eps), the same value with one square root more. Step then
// zeroes the gradient, as a gorgonia Solver must: a tape machine with
// BindDualValues adds each run's gradient onto the previous one (the
// trainer does not bind them: it hands Step the gradient nodes' own
// outputs, which the next run overwrites; a variant that left them was no
// faster in BenchmarkAdadelta of models/vec). Step refuses to leave a
// non-finite weight unreported: it returns ErrDiverged, naming the tensor.
type Adadelta struct {
	// LR is the learning rate; StepLR changes it between epochs.
	LR float64
	// Rho is the decay of the running averages.
	Rho float64
	// Eps is added under both square roots.
	Eps float64
	// WeightDecay is the L2 penalty added to the gradient.
	WeightDecay float64

	sq, acc []any // per tensor: running averages of g² (v) and d² (u), []float32 or []float64
}

var _ G.Solver = (*Adadelta)(nil)

// NewAdadelta returns an Adadelta with the paper's Rho and Eps.
func NewAdadelta(lr, weightDecay float64) *Adadelta {
	return &Adadelta{LR: lr, Rho: Rho, Eps: Eps, WeightDecay: weightDecay}
}

// Step implements G.Solver: it updates each weight in place from its
// gradient, then zeroes the gradient. The model must be the same tensors, in
// the same order, at every step.
func (a *Adadelta) Step(model []G.ValueGrad) error {
	if a.sq == nil {
		a.sq, a.acc = make([]any, len(model)), make([]any, len(model))
	} else if len(a.sq) != len(model) {
		return fmt.Errorf("cnn: adadelta: step over %d tensors, earlier over %d", len(model), len(a.sq))
	}
	for i, vg := range model {
		w, ok := vg.Value().(*tensor.Dense)
		if !ok {
			return fmt.Errorf("cnn: adadelta: weight %d is a %T, not a dense tensor", i, vg.Value())
		}
		gv, err := vg.Grad()
		if err != nil {
			return fmt.Errorf("cnn: adadelta: gradient of weight %d: %w", i, err)
		}
		g, ok := gv.(*tensor.Dense)
		if !ok || g.Size() != w.Size() || g.Dtype() != w.Dtype() {
			return fmt.Errorf("cnn: adadelta: gradient of weight %d (%T) does not match it (%v %v)", i, gv, w.Shape(), w.Dtype())
		}
		var finite bool
		switch w.Dtype() {
		case tensor.Float32:
			ws := values[float32](w)
			finite = adadeltaStep(a, i, ws, values[float32](g))
		case tensor.Float64:
			ws := values[float64](w)
			finite = adadeltaStep(a, i, ws, values[float64](g))
		default:
			return fmt.Errorf("cnn: adadelta: weight %d has unsupported dtype %v", i, w.Dtype())
		}
		if !finite {
			name := fmt.Sprint("weight ", i)
			if n, ok := vg.(interface{ Name() string }); ok {
				name = n.Name()
			}
			return fmt.Errorf("%w: non-finite value in %s after an Adadelta step", ErrDiverged, name)
		}
	}
	return nil
}

// adadeltaStep updates weights w from gradients g with the state of tensor
// i, zeroes g, and tells whether every new weight is finite. A large
// tensor is shared among all cores.
func adadeltaStep[T float32 | float64](a *Adadelta, i int, w, g []T) bool {
	if a.sq[i] == nil {
		a.sq[i], a.acc[i] = make([]T, len(w)), make([]T, len(w))
	}
	v, u := a.sq[i].([]T), a.acc[i].([]T)
	v, u, g = v[:len(w)], u[:len(w)], g[:len(w)]
	const grain = 1 << 14 // values below which a goroutine costs more than it saves
	n := max(1, min(parts(len(w)), len(w)/grain))
	if n == 1 { // here, without a section's closure: six of the CNN's eight tensors
		return adadeltaSlice(a, w, g, v, u)
	}
	return forSpans(n, spanAdadelta, a, w, g, v, u)
}

// adadeltaSpan is adadeltaSlice on a range of forSpans' slices (w, g, v,
// u).
func adadeltaSpan[T float32 | float64](s *spans[T], lo, hi int) bool {
	return adadeltaSlice(s.opt, s.cut(0, lo, hi), s.cut(1, lo, hi), s.cut(2, lo, hi), s.cut(3, lo, hi))
}

// adadeltaSlice updates the weights w from g, v and u on the calling
// goroutine and tells whether every new weight is finite.
func adadeltaSlice[T float32 | float64](a *Adadelta, w, g, v, u []T) bool {
	if w32, ok := any(w).([]float32); ok {
		return vec.Adadelta(w32, any(g).([]float32), any(v).([]float32), any(u).([]float32),
			vec.AdadeltaParams{LR: float32(a.LR), Rho: float32(a.Rho), Eps: float32(a.Eps), WeightDecay: float32(a.WeightDecay)})
	}
	return vec.AdadeltaGo(w, g, v, u, T(a.LR), T(a.Rho), T(a.Eps), T(a.WeightDecay))
}

// StepLR multiplies an optimiser's learning rate by Gamma at each Step: with
// one Step after each epoch, PyTorch's StepLR with step_size 1.
type StepLR struct {
	Opt   *Adadelta
	Gamma float64
}

// Step decays the learning rate once.
func (s StepLR) Step() { s.Opt.LR *= s.Gamma }
