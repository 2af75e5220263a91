package models_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gahpo/gahpo/internal/testpython"
	"github.com/gahpo/gahpo/models"
)

// readNPZ reads an .npz of float32 arrays as NumPy's format 1.0 defines it,
// checking what numpy.load checks: the magic, the version, a header that
// ends in a newline at a multiple of 64 bytes, and the data's length.
func readNPZ(t *testing.T, b []byte) []models.Array {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	shapeRE := regexp.MustCompile(`^\{'descr': '<f4', 'fortran_order': False, 'shape': \(([0-9, ]*)\), \} *\n$`)
	var out []models.Array
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(data[:8]) != "\x93NUMPY\x01\x00" {
			t.Fatalf("%s: magic and version %q", f.Name, data[:8])
		}
		hlen := int(binary.LittleEndian.Uint16(data[8:]))
		if (10+hlen)%64 != 0 {
			t.Errorf("%s: data begin at byte %d, not a multiple of 64", f.Name, 10+hlen)
		}
		m := shapeRE.FindStringSubmatch(string(data[10 : 10+hlen]))
		if m == nil {
			t.Fatalf("%s: header %q", f.Name, data[10:10+hlen])
		}
		a := models.Array{Name: strings.TrimSuffix(f.Name, ".npy")}
		n := 1
		for _, d := range strings.Split(m[1], ",") {
			if d = strings.TrimSpace(d); d != "" {
				v, _ := strconv.Atoi(d)
				a.Shape = append(a.Shape, v)
				n *= v
			}
		}
		raw := data[10+hlen:]
		if len(raw) != 4*n {
			t.Fatalf("%s: %d bytes of data for shape %v", f.Name, len(raw), a.Shape)
		}
		for i := range n {
			a.Data = append(a.Data, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		out = append(out, a)
	}
	return out
}

func TestWriteNPZ(t *testing.T) {
	tests := []struct {
		name   string
		arrays []models.Array
		err    bool
	}{
		{name: "one flat", arrays: []models.Array{{Name: "b", Shape: []int{3}, Data: []float32{1, -2, 3.5}}}},
		{name: "four dims and a matrix", arrays: []models.Array{
			{Name: "conv.weight", Shape: []int{2, 1, 2, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}},
			{Name: "fc.weight", Shape: []int{2, 3}, Data: []float32{0, 1, 2, 3, 4, float32(math.Inf(-1))}},
		}},
		{name: "header lengths around 64", arrays: []models.Array{
			{Name: "s", Shape: []int{1}, Data: []float32{1}},
			{Name: "t", Shape: []int{10, 10}, Data: make([]float32, 100)},
			{Name: "u", Shape: []int{1000, 1}, Data: make([]float32, 1000)},
			{Name: "v", Shape: []int{10000, 100}, Data: make([]float32, 1000000)},
		}},
		{name: "values short of the shape", arrays: []models.Array{{Name: "x", Shape: []int{2, 2}, Data: []float32{1}}}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := models.WriteNPZ(&b, tc.arrays)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readNPZ(t, b.Bytes())
			if len(got) != len(tc.arrays) {
				t.Fatalf("%d arrays, want %d", len(got), len(tc.arrays))
			}
			for i, a := range tc.arrays {
				g := got[i]
				if g.Name != a.Name || !slices.Equal(g.Shape, a.Shape) || !slices.Equal(g.Data, a.Data) {
					t.Errorf("array %d: %s %v %v, want %s %v %v", i, g.Name, g.Shape, g.Data[:min(4, len(g.Data))], a.Name, a.Shape, a.Data[:min(4, len(a.Data))])
				}
			}
		})
	}
}

// TestNPZReadByNumPy has numpy.load read what WriteNPZ writes, when a
// python3 with numpy is at hand.
func TestNPZReadByNumPy(t *testing.T) {
	py := testpython.With(t, "numpy")
	file := filepath.Join(t.TempDir(), "a.npz")
	var b bytes.Buffer
	arrays := []models.Array{
		{Name: "fc1.weight", Shape: []int{2, 3}, Data: []float32{0.5, 1, 2, 3, 4, 5}},
		{Name: "fc1.bias", Shape: []int{2}, Data: []float32{-1, 0.25}},
	}
	if err := models.WriteNPZ(&b, arrays); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import sys, numpy
z = numpy.load(sys.argv[1])
for k in z.files:
    a = z[k]
    print(k, a.dtype, a.shape, a[(0,)*a.ndim], a.sum())`, file).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy.load: %v\n%s", err, out)
	}
	want := "fc1.weight float32 (2, 3) 0.5 15.5\nfc1.bias float32 (2,) -1.0 -0.75\n"
	if string(out) != want {
		t.Errorf("numpy read:\n%s\nwant:\n%s", out, want)
	}
}
