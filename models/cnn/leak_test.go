package cnn

import (
	"runtime"
	"testing"

	"gorgonia.org/tensor"
)

// TestNetsAreFreed checks that nets nobody references are garbage
// collected. gorgonia gives each tape machine a finalizer (a no-op without
// CUDA) and its graph reaches back to the machine: Go never frees a cycle
// that holds a finalizer, so newNet must clear it. Each training net holds
// at least its gradients, 4.8 MB.
func TestNetsAreFreed(t *testing.T) {
	train := loadTrain(t)
	p := newParams(tensor.Float32, 1)
	heap := func() int64 {
		for range 3 {
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := heap()
	const nets = 10
	for i := range nets {
		n, err := newNet(p, 2, i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		n.setImages(train, []int{0, 1})
		if n.y != nil {
			n.setTargets(train, []int{0, 1}, 0.5)
			n.setMasks(nil)
		}
		if err := n.run(); err != nil {
			t.Fatal(err)
		}
	}
	grown := heap() - before
	t.Logf("heap grew by %.1f MB", float64(grown)/(1<<20))
	if grown > 10<<20 {
		t.Errorf("heap grew by %d MB after %d nets were built, run and dropped", grown>>20, nets)
	}
}
