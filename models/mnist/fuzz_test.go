package mnist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// realHead returns the first n items of a real MNIST file, its header's
// count set to n, or nil when the files are not on this machine.
func realHead(name string, n int, header, item int) []byte {
	dir, err := FindDir()
	if err != nil {
		return nil
	}
	b, err := readAllIDX(filepath.Join(dir, name))
	if err != nil || len(b) < header+n*item {
		return nil
	}
	out := bytes.Clone(b[:header+n*item])
	binary.BigEndian.PutUint32(out[4:], uint32(n))
	return out
}

// readAllIDX reads a file, gunzipped when it is compressed.
func readAllIDX(path string) ([]byte, error) {
	var out []byte
	err := readIDX(path, func(r io.Reader) error {
		var err error
		out, err = io.ReadAll(r)
		return err
	})
	return out, err
}

// FuzzLoadSet: any pair of files gives a set or an ErrFormat error naming
// a file, never a panic; an accepted set is consistent.
func FuzzLoadSet(f *testing.F) {
	images, labels := idxImages(imagesMagic, 3, Rows, Cols), idxLabels(labelsMagic, 5, 0, 9)
	f.Add(images, labels)
	f.Add(gz(images), gz(labels))
	f.Add(images[:20], labels)
	f.Add(idxImages(imagesMagic, 0, Rows, Cols), idxLabels(labelsMagic))
	if ri, rl := realHead(TestImagesFile, 4, 16, Pixels), realHead(TestLabelsFile, 4, 8, 1); ri != nil && rl != nil {
		f.Add(ri, rl)
		f.Add(gz(ri), gz(rl))
	}
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		dir := t.TempDir()
		ip, lp := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
		if err := os.WriteFile(ip, images, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lp, labels, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSet(ip, lp)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if len(s.Labels) != s.N || len(s.Pixels) != s.N*Pixels {
			t.Fatalf("set of %d images with %d labels and %d pixel bytes", s.N, len(s.Labels), len(s.Pixels))
		}
		for _, l := range s.Labels {
			if l >= Classes {
				t.Fatalf("label %d accepted", l)
			}
		}
	})
}

// TestClaimedCountCostsNoMemory: a header that claims the largest count
// allowed, over a file that holds nothing, is refused without allocating
// what the header claims (822 MB before the fix).
func TestClaimedCountCostsNoMemory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "claims")
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{imagesMagic, maxCount, Rows, Cols})
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := readImages(p)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want ErrFormat", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("refusing a 16-byte file allocated %d MB", got>>20)
	}
}
