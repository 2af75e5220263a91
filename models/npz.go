package models

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Array is one named float32 array in C (row-major) order, as NumPy holds
// it.
type Array struct {
	Name  string
	Shape []int
	Data  []float32
}

// WriteNPZ writes arrays to w as NumPy's .npz: a zip archive with one
// NAME.npy file (format 1.0, little-endian float32, C order) per array, in
// the order given; numpy.load reads it, and PyTorch's
// load_state_dict({k: torch.from_numpy(v) for k, v in numpy.load(f).items()})
// loads arrays named and shaped as its parameters.
func WriteNPZ(w io.Writer, arrays []Array) error {
	zw := zip.NewWriter(w)
	for _, a := range arrays {
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) {
			return fmt.Errorf("models: npz: %s has %d values for shape %v", a.Name, len(a.Data), a.Shape)
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: zip.Deflate})
		if err != nil {
			return fmt.Errorf("models: npz: %w", err)
		}
		if _, err := f.Write(npyHeader(a.Shape)); err != nil {
			return fmt.Errorf("models: npz: %w", err)
		}
		buf := make([]byte, 0, 4*len(a.Data))
		for _, v := range a.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("models: npz: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("models: npz: %w", err)
	}
	return nil
}

// npyHeader is the .npy format 1.0 header of a float32 array of the given
// shape: the magic, the version, the header's length and a Python dict
// literal padded with spaces to a newline, so that the data begin at a
// multiple of 64 bytes.
func npyHeader(shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	tuple += ")"
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple + ", }"
	const prefix = 10 // magic (6), version (2), header length (2)
	pad := 64 - (prefix+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	h := make([]byte, 0, prefix+len(dict)+pad+1)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(len(dict)+pad+1))
	h = append(h, dict...)
	h = append(h, strings.Repeat(" ", pad)...)
	return append(h, '\n')
}
