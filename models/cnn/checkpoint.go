package cnn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/mnist"
)

// StateFile is the name of the file in which Train keeps a training's
// state in its Run.Dir.
const StateFile = "state.bin"

var (
	// ErrCheckpoint is returned (wrapped) by Train when the state in
	// Run.Dir belongs to another training (another batch size, learning
	// rate, gamma, weight decay, seed or training set) or already holds
	// Run.To epochs or more. It is the caller's mix-up, not the genome's
	// failure: it is not models.ErrUntrainable.
	ErrCheckpoint = errors.New("cnn: checkpoint of another training")
	// ErrBadState is returned (wrapped, with the file's path) when the
	// state file cannot be read back: truncated, corrupt, of another
	// format or version. Not models.ErrUntrainable either: the file, not
	// the genome, is at fault, and another attempt may get a sound copy.
	ErrBadState = errors.New("cnn: unreadable checkpoint")
)

// The state file, version 1, all integers little-endian:
//
//	magic "GAHPOCKP", uint16 version,
//	uint16 length, the training's identity (see identity),
//	uint32 epochs done, float64 learning rate of the next epoch,
//	uint8 length, the shuffle's PCG state (MarshalBinary),
//	uint8 length, the dropout's PCG state,
//	uint32 length, the weights as marshal writes them,
//	per tensor of specs: uint8 1 then Adadelta's v and u as float32
//	                     (uint8 0 when the tensor has none yet),
//	uint32 CRC-32C of everything before it.
const (
	stateMagic   = "GAHPOCKP"
	stateVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// state is what a training needs to go on exactly where it stopped.
type state struct {
	identity         string
	done             int
	lr               float64
	shuffle, dropout []byte // PCG states
	weights          params
	sq, acc          []any // Adadelta's v and u per tensor, []float32 or nil
}

// identity describes what a checkpoint must share with the training that
// goes on from it: the genome's batch size, learning rate, gamma, weight
// decay and shift, the seed, and the training set (its size and a CRC-32C of its
// labels and pixels). Floats are written exactly.
func identity(cfg Config, train *mnist.Set) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	sum := crc32.Update(crc32.Checksum(train.Labels, castagnoli), castagnoli, train.Pixels)
	shift := "" // the paper's genomes' identities stay those of before the gene
	if cfg.Shift > 0 {
		shift = fmt.Sprintf(" shift=%d", cfg.Shift)
	}
	return fmt.Sprintf("batch_size=%d lr=%s gamma=%s weight_decay=%s%s seed=%d train=%d images crc32c=%08x",
		cfg.BatchSize, f(cfg.LR), f(cfg.Gamma), f(cfg.WeightDecay), shift, cfg.Seed, train.N, sum)
}

// capture returns the state of t after done epochs.
func (t *trainer) capture(id string, done int, p params) (*state, error) {
	sh, err := t.shuffleSrc.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("cnn: shuffle source state: %w", err)
	}
	dr, err := t.dropSrc.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("cnn: dropout source state: %w", err)
	}
	return &state{identity: id, done: done, lr: t.opt.LR, shuffle: sh, dropout: dr, weights: p, sq: t.opt.sq, acc: t.opt.acc}, nil
}

// restore puts the random sources and the optimiser of st into t, which
// must have been built around st.weights.
func (t *trainer) restore(st *state) error {
	if err := t.shuffleSrc.UnmarshalBinary(st.shuffle); err != nil {
		return fmt.Errorf("shuffle source: %w", err)
	}
	if err := t.dropSrc.UnmarshalBinary(st.dropout); err != nil {
		return fmt.Errorf("dropout source: %w", err)
	}
	t.opt.LR = st.lr
	if st.sq != nil {
		t.opt.sq, t.opt.acc = st.sq, st.acc
	}
	return nil
}

// marshal serialises st in the state file's format.
func (st *state) marshal() []byte {
	le := binary.LittleEndian
	w := st.weights.marshal()
	size := 0
	for _, s := range specs {
		size += 2 * 4 * s.shape.TotalSize()
	}
	b := make([]byte, 0, 64+len(st.identity)+len(w)+size+len(specs))
	b = append(b, stateMagic...)
	b = le.AppendUint16(b, stateVersion)
	b = le.AppendUint16(b, uint16(len(st.identity)))
	b = append(b, st.identity...)
	b = le.AppendUint32(b, uint32(st.done))
	b = le.AppendUint64(b, math.Float64bits(st.lr))
	for _, r := range [][]byte{st.shuffle, st.dropout} {
		b = append(b, byte(len(r)))
		b = append(b, r...)
	}
	b = le.AppendUint32(b, uint32(len(w)))
	b = append(b, w...)
	for i := range specs {
		var v, u []float32
		if i < len(st.sq) && st.sq[i] != nil {
			v, u = st.sq[i].([]float32), st.acc[i].([]float32)
		}
		if v == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = appendFloat32s(appendFloat32s(b, v), u)
	}
	return models.SealState(b)
}

// unmarshalState reads a state file's contents.
func unmarshalState(data []byte) (*state, error) {
	r, err := models.OpenState(data, stateMagic, stateVersion, "gahpo CNN state file")
	if err != nil {
		return nil, err
	}
	st := &state{identity: string(r.Bytes(int(r.U16())))}
	st.done = int(r.U32())
	st.lr = math.Float64frombits(binary.LittleEndian.Uint64(r.Bytes(8)))
	st.shuffle = bytes.Clone(r.Bytes(int(r.U8())))
	st.dropout = bytes.Clone(r.Bytes(int(r.U8())))
	w := r.Bytes(int(r.U32()))
	if r.Err != nil {
		return nil, r.Err
	}
	loaded, err := unmarshalParams(w)
	if err != nil {
		return nil, err
	}
	// Into tensors allocated as newParams allocates them.
	st.weights = make(params, len(specs))
	for i, s := range specs {
		t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(s.shape.Clone()...))
		copy(values[float32](t), values[float32](loaded[i]))
		st.weights[i] = t
	}
	st.sq, st.acc = make([]any, len(specs)), make([]any, len(specs))
	some := false
	for i, s := range specs {
		if r.U8() == 0 {
			continue
		}
		n := s.shape.TotalSize()
		v, u := make([]float32, n), make([]float32, n)
		for _, dst := range [][]float32{v, u} {
			raw := r.Bytes(4 * n)
			if r.Err != nil {
				return nil, r.Err
			}
			readFloat32s(dst, raw)
		}
		st.sq[i], st.acc[i], some = v, u, true
	}
	switch {
	case r.Err != nil:
		return nil, r.Err
	case len(r.B) != 0:
		return nil, fmt.Errorf("%d bytes after the optimiser's state", len(r.B))
	case st.done < 1:
		return nil, fmt.Errorf("%d epochs done", st.done)
	case !some:
		return nil, errors.New("no optimiser state after an epoch")
	}
	for i := range specs {
		if st.sq[i] == nil {
			return nil, fmt.Errorf("no optimiser state for %s", specs[i].name)
		}
	}
	return st, nil
}

// loadState reads the state file of dir; it returns nil, nil when dir is
// "" or holds none.
func loadState(dir string) (*state, error) {
	if dir == "" {
		return nil, nil
	}
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cnn: read checkpoint: %w", err)
	}
	st, err := unmarshalState(data)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadState, path, err)
	}
	return st, nil
}

// saveState writes st into dir's state file atomically: a temporary file in
// dir, synced, then renamed over the old one.
func saveState(dir string, st *state) error {
	return models.WriteFileAtomic(filepath.Join(dir, StateFile), st.marshal())
}

// appendFloat32s appends the little-endian bits of vs to b.
func appendFloat32s(b []byte, vs []float32) []byte {
	n := len(b)
	b = slices.Grow(b, 4*len(vs))[:n+4*len(vs)]
	out := b[n:]
	for j, x := range vs {
		binary.LittleEndian.PutUint32(out[4*j:], math.Float32bits(x))
	}
	return b
}

// readFloat32s reads len(dst) little-endian float32 values from raw.
func readFloat32s(dst []float32, raw []byte) {
	raw = raw[:4*len(dst)]
	for j := range dst {
		dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
	}
}
