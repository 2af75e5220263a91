package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Names of the four MNIST files, as GoMNIST ships them.
const (
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz"
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

// Files lists the four MNIST files: training images and labels, then test
// images and labels.
var Files = []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile}

// ErrFormat is returned (wrapped, with the file's name) for a file that is not
// a valid IDX file of MNIST images or labels: wrong magic number or image
// size, truncated, longer than its header says, a label above 9, a corrupt
// gzip stream, or image and label files whose counts differ.
var ErrFormat = errors.New("mnist: bad IDX file")

// IDX magic numbers: two zero bytes, the type (0x08: unsigned byte), and the
// number of dimensions.
const (
	imagesMagic = 0x00000803
	labelsMagic = 0x00000801
	// maxCount bounds the count read from a header before anything is
	// allocated from it.
	maxCount = 1 << 20
)

// LoadSet reads an image file and its label file, each gzip-compressed or
// raw (told apart by the gzip header, not by the name).
func LoadSet(imagesPath, labelsPath string) (*Set, error) {
	pixels, n, err := readImages(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := readLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("mnist: %s holds %d labels for the %d images of %s: %w",
			labelsPath, len(labels), n, imagesPath, ErrFormat)
	}
	return &Set{N: n, Pixels: pixels, Labels: labels}, nil
}

// Load reads the training and test sets from the four [Files] in dir; an
// empty dir means the GoMNIST folder that [FindDir] finds.
func Load(dir string) (train, test *Set, err error) {
	if dir == "" {
		if dir, err = FindDir(); err != nil {
			return nil, nil, err
		}
	}
	if train, err = LoadSet(filepath.Join(dir, TrainImagesFile), filepath.Join(dir, TrainLabelsFile)); err != nil {
		return nil, nil, err
	}
	if test, err = LoadSet(filepath.Join(dir, TestImagesFile), filepath.Join(dir, TestLabelsFile)); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// readImages returns the pixels of an IDX image file and its image count.
func readImages(path string) ([]uint8, int, error) {
	var pixels []uint8
	var n int
	err := readIDX(path, func(r io.Reader) error {
		var h struct{ Count, Rows, Cols uint32 }
		if err := readHeader(r, imagesMagic, "images", &h); err != nil {
			return err
		}
		switch {
		case h.Rows != Rows || h.Cols != Cols:
			return fmt.Errorf("%w: images of %d×%d, want %d×%d", ErrFormat, h.Rows, h.Cols, Rows, Cols)
		case h.Count > maxCount:
			return fmt.Errorf("%w: header says %d images, more than %d", ErrFormat, h.Count, maxCount)
		}
		n = int(h.Count)
		// Read what is there rather than allocate what the header claims.
		var err error
		if pixels, err = readN(r, n*Pixels); err != nil {
			return fmt.Errorf("%w: truncated: header says %d images, file holds %d of their %d pixel bytes: %w",
				ErrFormat, n, len(pixels), n*Pixels, err)
		}
		return nil
	})
	return pixels, n, err
}

// readLabels returns the labels of an IDX label file.
func readLabels(path string) ([]uint8, error) {
	var labels []uint8
	err := readIDX(path, func(r io.Reader) error {
		var h struct{ Count uint32 }
		if err := readHeader(r, labelsMagic, "labels", &h); err != nil {
			return err
		}
		if h.Count > maxCount {
			return fmt.Errorf("%w: header says %d labels, more than %d", ErrFormat, h.Count, maxCount)
		}
		var err error
		if labels, err = readN(r, int(h.Count)); err != nil {
			return fmt.Errorf("%w: truncated: header says %d labels, file holds %d: %w", ErrFormat, h.Count, len(labels), err)
		}
		for i, l := range labels {
			if l >= Classes {
				return fmt.Errorf("%w: label %d of item %d is not a digit", ErrFormat, l, i)
			}
		}
		return nil
	})
	return labels, err
}

// readN reads n bytes, growing its buffer with what arrives, so that a
// header that claims more than the file holds costs no more memory than
// the file; fewer bytes give io.ErrUnexpectedEOF.
func readN(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, 0, min(n, 1<<20))
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(n-len(b), len(b))) // doubles, up to n
		}
		got, err := io.ReadFull(r, b[len(b):min(cap(b), n)])
		b = b[:len(b)+got]
		if err == io.EOF {
			return b, io.ErrUnexpectedEOF
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// readHeader reads and checks the magic number of an IDX file of the given
// kind, then the rest of its header into h.
func readHeader(r io.Reader, magic uint32, kind string, h any) error {
	var got uint32
	if err := binary.Read(r, binary.BigEndian, &got); err != nil {
		return fmt.Errorf("%w: truncated header: %w", ErrFormat, err)
	}
	if got != magic {
		return fmt.Errorf("%w: magic number %#08x, want %#08x for %s", ErrFormat, got, magic, kind)
	}
	if err := binary.Read(r, binary.BigEndian, h); err != nil {
		return fmt.Errorf("%w: truncated header: %w", ErrFormat, err)
	}
	return nil
}

// readIDX opens path, decompressing it when it starts with the gzip magic,
// lets parse read the content, and checks that nothing follows it. Errors
// name the file.
func readIDX(path string, parse func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("mnist: open IDX file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("mnist: %s: %w: gzip header: %w", path, ErrFormat, err)
		}
		defer zr.Close()
		r = zr
	}
	if err := parse(r); err != nil {
		return fmt.Errorf("mnist: %s: %w", path, err)
	}
	// Reading to the end also verifies the gzip checksum.
	var extra [1]byte
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return fmt.Errorf("mnist: %s: %w: data past the end its header gives", path, ErrFormat)
	case err != io.EOF:
		return fmt.Errorf("mnist: %s: %w: %w", path, ErrFormat, err)
	}
	return nil
}
