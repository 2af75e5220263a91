package mnist

import (
	"errors"
	"fmt"
)

// Geometry of an MNIST image.
const (
	Rows, Cols = 28, 28
	// Pixels is the number of pixels of one image.
	Pixels = Rows * Cols
	// Classes is the number of labels (the digits 0 to 9).
	Classes = 10
)

// Normalisation of the pixels: (p/255 - Mean) / Std, the figures of the
// PyTorch MNIST example.
const (
	Mean = 0.1307
	Std  = 0.3081
)

// Set is a set of labelled images.
type Set struct {
	// N is the number of images.
	N int
	// Pixels holds the N images row-major, Pixels per image, 0 (white) to 255.
	Pixels []uint8
	// Labels holds the N digits, each 0 to 9.
	Labels []uint8
}

// Image returns the pixels of image i; it shares memory with s.
func (s *Set) Image(i int) []uint8 { return s.Pixels[i*Pixels : (i+1)*Pixels] }

// Slice returns images from to to-1; it shares memory with s. It panics when
// the range is out of bounds, as slicing does.
func (s *Set) Slice(from, to int) *Set {
	if from < 0 || to < from || to > s.N {
		panic(fmt.Sprintf("mnist: slice [%d:%d] of a set of %d images", from, to, s.N))
	}
	return &Set{
		N:      to - from,
		Pixels: s.Pixels[from*Pixels : to*Pixels : to*Pixels],
		Labels: s.Labels[from:to:to],
	}
}

// check reports a set whose slices do not match N.
func (s *Set) check() error {
	if s == nil {
		return errors.New("mnist: nil set")
	}
	if s.N < 0 || len(s.Pixels) != s.N*Pixels || len(s.Labels) != s.N {
		return fmt.Errorf("mnist: set of %d images has %d pixels and %d labels", s.N, len(s.Pixels), len(s.Labels))
	}
	return nil
}

// normTable maps a pixel to its normalised value, computed in float64 as
// PyTorch's example does, then rounded to each precision.
var (
	normTable32 [256]float32
	normTable64 [256]float64
)

func init() {
	for p := range normTable64 {
		v := (float64(p)/255 - Mean) / Std
		normTable64[p] = v
		normTable32[p] = float32(v)
	}
}

// Normalize writes the normalised pixels px into dst, which must be at least
// as long as px.
func Normalize[T float32 | float64](dst []T, px []uint8) {
	dst = dst[:len(px)]
	switch d := any(dst).(type) {
	case []float32:
		for i, p := range px {
			d[i] = normTable32[p]
		}
	case []float64:
		for i, p := range px {
			d[i] = normTable64[p]
		}
	}
}
