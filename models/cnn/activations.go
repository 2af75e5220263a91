package cnn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/mnist"
	"gorgonia.org/tensor"
)

// Conv1Size is the side of one channel of the first convolution's output:
// a 3×3 kernel without padding over a 28×28 image.
const Conv1Size = mnist.Rows - 2

// Conv1Activations runs the first convolution and its ReLU of the network
// whose serialised weights are given (as the final training stores them)
// on one MNIST image of mnist.Pixels pixels, normalised as in training. It
// returns one Conv1Size×Conv1Size map per output channel (32), row-major.
// Malformed weights give an error wrapping ErrWeights.
func Conv1Activations(weights []byte, image []uint8) ([][]float32, error) {
	if len(image) != mnist.Pixels {
		return nil, fmt.Errorf("cnn: conv1 activations: image of %d pixels, want %d", len(image), mnist.Pixels)
	}
	p, err := unmarshalParams(weights)
	if err != nil {
		return nil, err
	}
	w, b := values[float32](p[0]), values[float32](p[1])
	in := make([]float32, mnist.Pixels)
	mnist.Normalize(in, image)
	const k = 3
	channels := specs[0].shape[0]
	out := make([][]float32, channels)
	for c := range out {
		m := make([]float32, Conv1Size*Conv1Size)
		kw := w[c*k*k : (c+1)*k*k]
		for y := range Conv1Size {
			for x := range Conv1Size {
				s := b[c]
				for ky := range k {
					row := in[(y+ky)*mnist.Cols+x:]
					for kx := range k {
						s += kw[ky*k+kx] * row[kx]
					}
				}
				m[y*Conv1Size+x] = max(s, 0)
			}
		}
		out[c] = m
	}
	return out, nil
}

// Conv1Weights returns the first convolution's weights (32×1×3×3, PyTorch's
// layout) from serialised weights.
func Conv1Weights(weights []byte) ([]float32, error) {
	p, err := unmarshalParams(weights)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), values[float32](p[0])...), nil
}

// InitialWeights returns the serialised weights a network with this seed
// starts training from (for tests and figures of untrained networks).
func InitialWeights(seed uint64) []byte {
	return newParams(tensor.Float32, seed).marshal()
}

// PyTorchArrays returns serialised weights (as the final training stores
// them) as arrays named and shaped as PyTorch's state_dict of the same
// network (pytorch/examples' mnist Net): the linear weights transposed to
// (out, in), the biases flat. models.WriteNPZ writes them for numpy.load.
// Malformed weights give an error wrapping ErrWeights.
func PyTorchArrays(weights []byte) ([]models.Array, error) {
	p, err := unmarshalParams(weights)
	if err != nil {
		return nil, err
	}
	out := make([]models.Array, len(p))
	for i, s := range specs {
		v := values[float32](p[i])
		a := models.Array{Name: s.name, Shape: []int(s.shape.Clone()), Data: slices.Clone(v)}
		switch {
		case strings.HasSuffix(s.name, ".bias"):
			a.Shape = []int{s.shape.TotalSize()}
		case len(s.shape) == 2: // a linear layer's (in, out): PyTorch's is (out, in)
			in, o := s.shape[0], s.shape[1]
			a.Shape = []int{o, in}
			for r := range in {
				for c := range o {
					a.Data[c*in+r] = v[r*o+c]
				}
			}
		}
		out[i] = a
	}
	return out, nil
}
