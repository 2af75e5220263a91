package store_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// history writes a closed history file with a finished run of many genomes
// (many pages), the engine, summaries, a final training and its weights.
func history(t testing.TB, path string) { historyOf(t, path, 600, 20000) }

// historyOf writes a finished run of n genomes and weights bytes of weights.
func historyOf(t testing.TB, path string, n, weights int) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var gs []gahpo.GenomeRecord
	for i := 1; i <= n; i++ {
		gs = append(gs, rec(i, i/30, gahpo.GenomeDone, 1/float64(i)))
	}
	if err := st.CreateRun(newRun("r", t0), bytes.Repeat([]byte(`{"engine":1}`), n/2), gs); err != nil {
		t.Fatal(err)
	}
	run := newRun("r", t0)
	run.Status = gahpo.RunDone
	sums := []gahpo.GenerationSummary{{Generation: 0, Best: 1, Fitness: 0.5}, {Generation: 1, Best: 31, Fitness: 0.03}}
	if err := st.Commit("r", store.Change{Run: &run, Summaries: sums}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFinal("r", run, gahpo.FinalTraining{GenomeID: 2}, bytes.Repeat([]byte{7}, weights)); err != nil {
		t.Fatal(err)
	}
}

// readAll calls every read of the store.
func readAll(st *store.Store) error {
	var errs []error
	add := func(err error) {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	_, err := st.Runs()
	add(err)
	_, err = st.Run("")
	add(err)
	_, err = st.Run("r")
	add(err)
	_, err = st.Engine("r")
	add(err)
	_, err = st.Genome("r", 300)
	add(err)
	_, err = st.Genomes("r", -1)
	add(err)
	_, err = st.Summaries("r")
	add(err)
	_, err = st.Final("r")
	add(err)
	_, err = st.Weights("r")
	add(err)
	_, err = st.BestPerGeneration("r")
	add(err)
	return errors.Join(errs...)
}

// TestCorruptFiles damages a real history file in the ways a crash, a full
// disk or a careless copy do. Opening it, read-only or read-write, and
// reading it must give an error that wraps ErrCorrupt and names the file,
// never a panic, and must leave the file's bytes as they were.
func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	history(t, good)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(orig) < 16*page {
		t.Fatalf("history is only %d bytes; the cases need more pages", len(orig))
	}
	damage := []struct {
		name string
		mod  func([]byte) []byte
		// mayOpen: the damage may fall on a free page, which nothing reads.
		mayOpen bool
	}{
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }, false},
		{"truncated to 3 pages", func(b []byte) []byte { return b[:3*page] }, false},
		{"truncated mid-page (maybe in the unused tail)", func(b []byte) []byte { return b[:len(b)-page-100] }, true},
		{"second half zeroed", func(b []byte) []byte { clear(b[len(b)/2:]); return b }, false},
		{"page 4 zeroed", func(b []byte) []byte { clear(b[4*page : 5*page]); return b }, true},
		{"every page from 2 zeroed", func(b []byte) []byte { clear(b[2*page:]); return b }, false},
		{"garbage in page 3", func(b []byte) []byte {
			for i := 3 * page; i < 4*page; i++ {
				b[i] = byte(i * 7)
			}
			return b
		}, false},
		{"garbage over data pages", func(b []byte) []byte {
			for i := 2 * page; i < len(b); i += 61 {
				b[i] ^= 0x5a
			}
			return b
		}, false},
		{"both meta pages zeroed", func(b []byte) []byte { clear(b[:2*page]); return b }, false},
		// Every page reads, but bbolt's check finds one neither used nor
		// free (found by FuzzOpen): Check's finding wraps ErrCorrupt too.
		{"a page neither used nor free", func(b []byte) []byte {
			const pgidAt, sumAt = 16 + 40, 16 + 56 // meta after the page header: pgid, checksum
			for _, m := range []int{0, page} {
				hwm := binary.LittleEndian.Uint64(b[m+pgidAt:])
				binary.LittleEndian.PutUint64(b[m+pgidAt:], hwm+1)
				h := fnv.New64a()
				h.Write(b[m+16 : m+sumAt])
				binary.LittleEndian.PutUint64(b[m+sumAt:], h.Sum64())
			}
			return append(b, make([]byte, page)...)
		}, false},
	}
	for _, d := range damage {
		for _, ro := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/readonly=%v", d.name, ro), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "h.db")
				bad := d.mod(bytes.Clone(orig))
				if err := os.WriteFile(path, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				err := openAndRead(path, ro)
				if err == nil && d.mayOpen {
					return
				}
				if err == nil {
					t.Fatal("no error for a damaged file")
				}
				if !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("err = %v; want it to wrap ErrCorrupt", err)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("err = %v; want it to name %s", err, path)
				}
				after, rerr := os.ReadFile(path)
				if rerr != nil {
					t.Fatal(rerr)
				}
				if !bytes.Equal(after, bad) {
					t.Errorf("the damaged file was modified (%d bytes before, %d after)", len(bad), len(after))
				}
			})
		}
	}
	// The intact file still opens and reads.
	if err := openAndRead(good, true); err != nil {
		t.Errorf("intact file: %v", err)
	}
}

// openAndRead opens path and reads everything, turning a panic into an
// error that says so.
func openAndRead(path string, ro bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PANIC: %v", r)
		}
	}()
	st, err := store.Open(path, store.Options{ReadOnly: ro})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := readAll(st); err != nil {
		return err
	}
	if err := st.Check(); err != nil {
		return fmt.Errorf("opened and read, but Check: %w", err)
	}
	return nil
}
