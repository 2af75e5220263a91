package cnn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models"
)

// paramSpec describes one learnable tensor of the network.
type paramSpec struct {
	name  string
	shape tensor.Shape
	fanIn int // inputs per output unit: sets the init bound 1/√fanIn
}

// specs lists the parameters in PyTorch's order (weight then bias, layer by
// layer). The convolution weights have PyTorch's shape (out, in, kh, kw);
// their biases are (1, C, 1, 1) for a broadcast add. The linear weights are
// (in, out), the transpose of PyTorch's (out, in), and their biases (1, out).
var specs = []paramSpec{
	{"conv1.weight", tensor.Shape{32, 1, 3, 3}, 1 * 3 * 3},
	{"conv1.bias", tensor.Shape{1, 32, 1, 1}, 1 * 3 * 3},
	{"conv2.weight", tensor.Shape{64, 32, 3, 3}, 32 * 3 * 3},
	{"conv2.bias", tensor.Shape{1, 64, 1, 1}, 32 * 3 * 3},
	{"fc1.weight", tensor.Shape{9216, 128}, 9216},
	{"fc1.bias", tensor.Shape{1, 128}, 9216},
	{"fc2.weight", tensor.Shape{128, 10}, 128},
	{"fc2.bias", tensor.Shape{1, 10}, 128},
}

// params holds the learnable tensors, in the order of specs. The graphs
// that train and evaluate the network share these tensors: the optimiser
// updates them in place.
type params []*tensor.Dense

// Random streams derived from a Config's seed, one per use, so that for
// example the batch size does not change the initial weights.
const (
	streamInit = iota + 1
	streamShuffle
	streamDropout
	streamShift
)

// newRand returns the random source of one stream of a seed.
func newRand(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// newParams draws initial weights as PyTorch's default does for Conv2d and
// Linear (kaiming-uniform with a = √5, which is U(±1/√fan_in), for weights
// and biases alike), from the seed.
func newParams(dt tensor.Dtype, seed uint64) params {
	r := newRand(seed, streamInit)
	p := make(params, len(specs))
	for i, s := range specs {
		t := tensor.New(tensor.Of(dt), tensor.WithShape(s.shape.Clone()...))
		bound := 1 / math.Sqrt(float64(s.fanIn))
		switch t.Dtype() {
		case tensor.Float32:
			d := values[float32](t)
			for j := range d {
				d[j] = float32((2*r.Float64() - 1) * bound)
			}
		case tensor.Float64:
			d := values[float64](t)
			for j := range d {
				d[j] = (2*r.Float64() - 1) * bound
			}
		}
		p[i] = t
	}
	return p
}

// The serialised form of the weights, version 1, all integers little-endian:
//
//	magic "GAHPOCNN", uint16 version, uint16 number of tensors,
//	per tensor: uint8 name length, name, uint8 rank, uint32 dims,
//	            then the float32 values,
//	uint32 CRC-32 (IEEE) of everything before it.
//
// Loading checks every name and shape against the network's.
const (
	weightsMagic   = "GAHPOCNN"
	weightsVersion = 1
)

// marshal serialises p as float32 values.
func (p params) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(weightsMagic)
	le := binary.LittleEndian
	b.Write(le.AppendUint16(nil, weightsVersion))
	b.Write(le.AppendUint16(nil, uint16(len(p))))
	for i, t := range p {
		b.WriteByte(byte(len(specs[i].name)))
		b.WriteString(specs[i].name)
		b.WriteByte(byte(t.Dims()))
		for _, d := range t.Shape() {
			b.Write(le.AppendUint32(nil, uint32(d)))
		}
		buf := make([]byte, 0, 4*t.Size())
		switch t.Dtype() {
		case tensor.Float32:
			d := values[float32](t)
			for _, v := range d {
				buf = le.AppendUint32(buf, math.Float32bits(v))
			}
		case tensor.Float64:
			d := values[float64](t)
			for _, v := range d {
				buf = le.AppendUint32(buf, math.Float32bits(float32(v)))
			}
		}
		b.Write(buf)
	}
	b.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(b.Bytes())))
	return b.Bytes()
}

// unmarshalParams loads weights serialised by marshal, as float32 tensors.
func unmarshalParams(data []byte) (params, error) {
	if len(data) < len(weightsMagic)+4+4 || string(data[:len(weightsMagic)]) != weightsMagic {
		return nil, fmt.Errorf("%w: not a gahpo CNN weight file", ErrWeights)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.ChecksumIEEE(body); got != sum {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x (truncated or corrupt)", ErrWeights, got, sum)
	}
	r := &models.Reader{B: body[len(weightsMagic):]}
	if v := r.U16(); v != weightsVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrWeights, v, weightsVersion)
	}
	if n := r.U16(); int(n) != len(specs) {
		return nil, fmt.Errorf("%w: %d tensors, want %d", ErrWeights, n, len(specs))
	}
	p := make(params, len(specs))
	for i, s := range specs {
		name := string(r.Bytes(int(r.U8())))
		shape := make(tensor.Shape, r.U8())
		for j := range shape {
			shape[j] = int(r.U32())
		}
		if r.Err != nil {
			break
		}
		if name != s.name || !shape.Eq(s.shape) {
			return nil, fmt.Errorf("%w: tensor %d is %s %v, want %s %v", ErrWeights, i, name, shape, s.name, s.shape)
		}
		raw := r.Bytes(4 * shape.TotalSize())
		if r.Err != nil {
			break
		}
		vals := make([]float32, shape.TotalSize())
		for j := range vals {
			vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		p[i] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
	}
	switch {
	case r.Err != nil:
		return nil, fmt.Errorf("%w: %w", ErrWeights, r.Err)
	case len(r.B) != 0:
		return nil, fmt.Errorf("%w: %d bytes after the last tensor", ErrWeights, len(r.B))
	}
	return p, nil
}
