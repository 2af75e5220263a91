package regression

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gahpo/gahpo/models"
)

// StateFile is the name of the file in which Train keeps a training's
// state in its Run.Dir.
const StateFile = "state.bin"

var (
	// ErrCheckpoint is returned (wrapped) by Train when the state in
	// Run.Dir belongs to another training (another learning rate, batch
	// size, fold count, seed, split seed or training set) or already holds
	// Run.To epochs or more. It is the caller's mix-up, not the genome's
	// failure: it is not models.ErrUntrainable.
	ErrCheckpoint = errors.New("regression: checkpoint of another training")
	// ErrBadState is returned (wrapped, with the file's path) when the
	// state file cannot be read back: truncated, corrupt, of another
	// format or version. Not models.ErrUntrainable either: the file, not
	// the genome, is at fault.
	ErrBadState = errors.New("regression: unreadable checkpoint")
)

// The state file, version 1, all integers little-endian:
//
//	magic "GAHPORCK", uint16 version,
//	uint16 length, the training's identity (see identity),
//	uint32 epochs done, uint32 number of networks (the folds, then the
//	network on the whole training set),
//	per network: uint8 length, its PCG state (MarshalBinary),
//	             uint32 n, its n example indices in their current order
//	             (uint32 each),
//	             uint32 length, its weights as net.marshal writes them,
//	uint32 CRC-32C of everything before it.
const (
	stateMagic   = "GAHPORCK"
	stateVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// netState is the state of one network's training.
type netState struct {
	rng []byte // PCG state
	idx []int  // its examples, in the order of the last shuffle
	net *net
}

// state is what Train needs to go on exactly where it stopped.
type state struct {
	identity string
	done     int
	nets     []netState
}

// identity describes what a checkpoint must share with the training that
// goes on from it: the learning rate, batch size, fold count, seed, split
// seed, the network's width, and the training set (its size and a CRC-32C
// of its values' bits). Floats are written exactly.
func identity(cfg Config, d *Data) string {
	buf := make([]byte, 0, 16*len(d.TrainX))
	for i, x := range d.TrainX {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(d.TrainY[i]))
	}
	return fmt.Sprintf("lr=%s batch_size=%d folds=%d seed=%d split_seed=%d hidden=%d train=%d rows crc32c=%08x",
		strconv.FormatFloat(cfg.LR, 'g', -1, 64), cfg.BatchSize, cfg.Folds, cfg.Seed, cfg.splitSeed(), Hidden,
		len(d.TrainX), crc32.Checksum(buf, castagnoli))
}

// marshal serialises st in the state file's format.
func (st *state) marshal() []byte {
	le := binary.LittleEndian
	b := append([]byte(nil), stateMagic...)
	b = le.AppendUint16(b, stateVersion)
	b = le.AppendUint16(b, uint16(len(st.identity)))
	b = append(b, st.identity...)
	b = le.AppendUint32(b, uint32(st.done))
	b = le.AppendUint32(b, uint32(len(st.nets)))
	for _, n := range st.nets {
		b = append(b, byte(len(n.rng)))
		b = append(b, n.rng...)
		b = le.AppendUint32(b, uint32(len(n.idx)))
		for _, i := range n.idx {
			b = le.AppendUint32(b, uint32(i))
		}
		w := n.net.marshal()
		b = le.AppendUint32(b, uint32(len(w)))
		b = append(b, w...)
	}
	return models.SealState(b)
}

// unmarshalState reads a state file's contents.
func unmarshalState(data []byte) (*state, error) {
	r, err := models.OpenState(data, stateMagic, stateVersion, "gahpo regression state file")
	if err != nil {
		return nil, err
	}
	st := &state{identity: string(r.Bytes(int(r.U16())))}
	st.done = int(r.U32())
	count := int(r.U32())
	if r.Err == nil && count > len(r.B) { // each network takes more than a byte
		return nil, fmt.Errorf("%d networks in %d bytes", count, len(r.B))
	}
	for k := 0; k < count && r.Err == nil; k++ {
		var n netState
		n.rng = append([]byte(nil), r.Bytes(int(r.U8()))...)
		size := int(r.U32())
		if r.Err == nil && 4*size > len(r.B) {
			return nil, fmt.Errorf("network %d: %d indices in %d bytes", k, size, len(r.B))
		}
		n.idx = make([]int, size)
		for j := range n.idx {
			n.idx[j] = int(r.U32())
		}
		w := r.Bytes(int(r.U32()))
		if r.Err != nil {
			break
		}
		nt, err := unmarshalNet(w)
		if err != nil {
			return nil, fmt.Errorf("network %d: %w", k, err)
		}
		width := len(nt.w1)
		nt.gw1, nt.gb1, nt.gw2 = make([]float64, width), make([]float64, width), make([]float64, width)
		n.net = nt
		st.nets = append(st.nets, n)
	}
	switch {
	case r.Err != nil:
		return nil, r.Err
	case len(r.B) != 0:
		return nil, fmt.Errorf("%d bytes after the last network", len(r.B))
	case st.done < 1:
		return nil, fmt.Errorf("%d epochs done", st.done)
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
		return nil, fmt.Errorf("regression: read checkpoint: %w", err)
	}
	st, err := unmarshalState(data)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadState, path, err)
	}
	return st, nil
}
