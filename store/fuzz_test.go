package store_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gahpo/gahpo/store"
)

var (
	seedOnce sync.Once
	seedFile []byte
)

// smallHistory is a real history file (many pages), made once.
func smallHistory(t testing.TB) []byte {
	seedOnce.Do(func() {
		path := filepath.Join(t.TempDir(), "seed.db")
		historyOf(t, path, 12, 100)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		seedFile = b
	})
	return seedFile
}

// FuzzOpen opens fuzzed history files, read-only and read-write, and reads
// them whole: an error or a readable store, never a panic, and a file that
// gives an error is left as it was.
func FuzzOpen(f *testing.F) {
	good := smallHistory(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append(bytes.Clone(good[:2*4096]), make([]byte, len(good)-2*4096)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // an empty file is a new history
		}
		for _, ro := range []bool{true, false} {
			path := filepath.Join(t.TempDir(), "h.db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			err := openAndRead(path, ro)
			if err == nil {
				continue
			}
			if bytes.HasPrefix([]byte(err.Error()), []byte("PANIC")) {
				t.Fatalf("readonly=%v: %v", ro, err)
			}
			if !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrSchema) {
				t.Fatalf("readonly=%v: %v wraps neither ErrCorrupt nor ErrSchema", ro, err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, data) {
				t.Fatalf("readonly=%v: a refused file was modified: %v", ro, err)
			}
		}
	})
}
