package regression

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestNetInit checks the PyTorch nn.Linear bounds: ±1 for the hidden layer
// (fan_in 1) and ±1/√Hidden for the output layer, and that the values are
// spread over those ranges rather than stuck near zero.
func TestNetInit(t *testing.T) {
	n := newNet(Hidden, newRand(1, streamFull))
	ob := 1 / math.Sqrt(Hidden)
	for _, c := range []struct {
		name  string
		v     []float64
		bound float64
	}{{"w1", n.w1, 1}, {"b1", n.b1, 1}, {"w2", n.w2, ob}, {"b2", []float64{n.b2}, ob}} {
		lo, hi := slices.Min(c.v), slices.Max(c.v)
		if lo < -c.bound || hi > c.bound {
			t.Errorf("%s in [%v, %v], outside ±%v", c.name, lo, hi, c.bound)
		}
		if len(c.v) > 1 && (lo > -c.bound/2 || hi < c.bound/2) {
			t.Errorf("%s in [%v, %v]: does not spread over ±%v", c.name, lo, hi, c.bound)
		}
	}
	if m := newNet(Hidden, newRand(1, streamFull)); !slices.Equal(m.w1, n.w1) || m.b2 != n.b2 {
		t.Error("same seed gave different initial weights")
	}
}

// TestNetGradient compares the hand-written backward pass with central
// finite differences of the batch MSE.
func TestNetGradient(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	n := newNet(Hidden, newRand(3, streamFull))
	batch := []int{0, 17, 42, 99, 150, 199}
	loss := func() float64 { return n.mse(d.TrainX, d.TrainY, batch) }
	l0 := loss()
	if got := n.step(d.TrainX, d.TrainY, batch, 0); got != l0 {
		t.Fatalf("step loss %v, mse %v", got, l0)
	}
	const h = 1e-6
	check := func(name string, p *float64, grad float64) {
		old := *p
		*p = old + h
		up := loss()
		*p = old - h
		down := loss()
		*p = old
		num := (up - down) / (2 * h)
		if diff := math.Abs(num - grad); diff > 1e-6*math.Max(1, math.Abs(num)) {
			t.Errorf("%s: analytic gradient %v, numeric %v", name, grad, num)
		}
	}
	for j := range Hidden {
		check("w1", &n.w1[j], n.gw1[j])
		check("b1", &n.b1[j], n.gb1[j])
		check("w2", &n.w2[j], n.gw2[j])
	}
	check("b2", &n.b2, n.gb2)
}

func TestPredictRoundTrip(t *testing.T) {
	n := newNet(Hidden, newRand(9, streamFull))
	x := []float64{-6, -2.5, 0, 0.123, 6}
	got, err := Predict(n.marshal(), x)
	if err != nil {
		t.Fatalf("Predict: %v", err)
	}
	for i, v := range x {
		if want := n.forward(v); got[i] != want {
			t.Errorf("Predict(%v) = %v; want %v", v, got[i], want)
		}
	}
}

func TestPredictBadWeights(t *testing.T) {
	good := newNet(4, newRand(1, streamFull)).marshal()
	mod := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	tests := []struct {
		name    string
		w       []byte
		wantErr string
	}{
		{name: "nil", w: nil, wantErr: "magic"},
		{name: "wrong magic", w: mod(func(b []byte) []byte { b[0] = 'X'; return b }), wantErr: "magic"},
		{name: "future version", w: mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return b }), wantErr: "version 2"},
		{name: "zero width", w: mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 0); return b }), wantErr: "width 0"},
		{name: "huge width", w: mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], math.MaxUint32); return b }), wantErr: "width"},
		{name: "truncated", w: good[:len(good)-1], wantErr: "bytes of parameters"},
		{name: "trailing byte", w: append(slices.Clone(good), 0), wantErr: "bytes of parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Predict(tt.w, []float64{1})
			if !errors.Is(err, ErrBadWeights) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Predict = %v; want ErrBadWeights mentioning %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Predict(good, []float64{1}); err != nil {
		t.Fatalf("Predict on the unmodified weights: %v", err)
	}
}
