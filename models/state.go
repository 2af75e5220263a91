package models

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The trainers' checkpoint files (the CNN's and the regression's) share
// one frame: a magic string, a uint16 version, the body, and a CRC-32C
// (Castagnoli) of everything before it, all integers little-endian.
// SealState and OpenState write and check the frame; Reader reads the
// fields of a body (the CNN's weights file too).

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SealState appends the CRC-32C of b to b: the frame's last field.
func SealState(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// OpenState checks data's magic, checksum and version and returns a
// Reader of the body that follows the version. what names the file's kind
// in the error ("gahpo CNN state file").
func OpenState(data []byte, magic string, version uint16, what string) (*Reader, error) {
	if len(data) < len(magic)+2+4 || string(data[:len(magic)]) != magic {
		return nil, errors.New("not a " + what)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("checksum %08x, want %08x (truncated or corrupt)", got, sum)
	}
	r := &Reader{B: body[len(magic):]}
	if v := r.U16(); v != version {
		return nil, fmt.Errorf("version %d, want %d", v, version)
	}
	return r, nil
}

// Reader reads little-endian fields from B, remembering the first short
// read in Err (after which every read returns zeros).
type Reader struct {
	B   []byte
	Err error
}

// Bytes returns the next n bytes (not a copy).
func (r *Reader) Bytes(n int) []byte {
	if r.Err != nil || n > len(r.B) {
		if r.Err == nil {
			r.Err = fmt.Errorf("truncated: %d bytes left, want %d", len(r.B), n)
		}
		return make([]byte, n)
	}
	out := r.B[:n]
	r.B = r.B[n:]
	return out
}

// U8 reads a byte.
func (r *Reader) U8() uint8 { return r.Bytes(1)[0] }

// U16 reads a little-endian uint16.
func (r *Reader) U16() uint16 { return binary.LittleEndian.Uint16(r.Bytes(2)) }

// U32 reads a little-endian uint32.
func (r *Reader) U32() uint32 { return binary.LittleEndian.Uint32(r.Bytes(4)) }

// U64 reads a little-endian uint64.
func (r *Reader) U64() uint64 { return binary.LittleEndian.Uint64(r.Bytes(8)) }
