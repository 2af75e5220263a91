package cnn

import (
	"fmt"
	"reflect"
	"unsafe"

	"gorgonia.org/tensor"
)

// values returns the backing array of d as a []T, without allocating.
// tensor's Dense.Data boxes a new slice header in an interface on every
// call (two allocations); the ops call it some hundred times a step, and a
// step allocates nothing else of its own. It panics when d's element type
// is not T, a programming error as a failed type assertion on Data is.
func values[T float32 | float64](d *tensor.Dense) []T {
	var zero T
	size := unsafe.Sizeof(zero)
	want := reflect.Float32
	if size == 8 {
		want = reflect.Float64
	}
	if k := d.Dtype().Kind(); k != want {
		panic(fmt.Sprintf("cnn: a tensor of %v read as %v", k, want))
	}
	raw := d.Raw
	if len(raw) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)/int(size))
}
