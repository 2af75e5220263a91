package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/gahpo/gahpo"
)

// SchemaVersion is the layout version this package reads and writes.
const SchemaVersion = 1

var (
	// ErrLocked is returned by Open when another process holds the file,
	// typically a running coordinator.
	ErrLocked = errors.New("store: database is in use by another process")
	// ErrNotFound is returned when a run, genome, generation or final
	// training is not in the file.
	ErrNotFound = errors.New("store: not found")
	// ErrSchema is returned by Open for a file written by another schema
	// version, or one that is not a gahpo database.
	ErrSchema = errors.New("store: unsupported schema")
	// ErrCorrupt is returned by Open for a file bbolt cannot read.
	ErrCorrupt = errors.New("store: corrupt database file")
	// ErrEmpty is returned by a read-only Open of an empty file: no
	// history was ever stored in it (a read-write Open makes it one).
	ErrEmpty = errors.New("store: empty file")
)

var (
	bucketMeta        = []byte("meta")
	bucketRuns        = []byte("runs")
	bucketGenomes     = []byte("genomes")
	bucketGenerations = []byte("generations")
	bucketFinal       = []byte("final")
	keySchema         = []byte("schema")
	keyRun            = []byte("run")
	keyEngine         = []byte("engine")
	keyTraining       = []byte("training")
	keyWeights        = []byte("weights")
)

// Options configures Open. The zero value opens read-write and waits 1s for
// the file lock.
type Options struct {
	// ReadOnly opens the file with a shared lock and forbids writes.
	ReadOnly bool
	// Timeout is how long Open waits for the file lock (0: 1 second).
	Timeout time.Duration
}

// Store is an open history file. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	abs  string // path made absolute at Open
}

// Open opens or creates the history file at path.
//
// An existing file is first opened read-only and checked whole (nothing
// past the end of the file, every key and value read, every record
// decoded);
// a damaged file gives an error wrapping ErrCorrupt that names it, and is
// left as it was: nothing is written to it. An empty file opened read-only
// gives ErrEmpty, and is left empty.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	fi, err := os.Stat(path)
	if err != nil && (opts.ReadOnly || !errors.Is(err, os.ErrNotExist)) {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err == nil && fi.IsDir() {
		return nil, fmt.Errorf("store: open %s: a directory, not a history file: give a file's path (one not there yet starts a new history)", path)
	}
	if err == nil && fi.Size() == 0 && opts.ReadOnly {
		// bbolt would write its first pages to it, which it cannot
		// read-only: say what the file is, and leave it as it is.
		return nil, fmt.Errorf("%w: %s is not a gahpo history (no run was ever stored in it)", ErrEmpty, path)
	}
	if err == nil && fi.Size() > 0 {
		// Check before any write: bbolt writes its meta page at the first
		// read-write transaction, and panics on damaged pages.
		db, err := openBolt(path, true, opts.Timeout)
		if err != nil {
			return nil, err
		}
		if err := verify(db, path); err != nil {
			db.Close()
			return nil, err
		}
		if opts.ReadOnly {
			return open(db, path, true)
		}
		if err := db.Close(); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	db, err := openBolt(path, opts.ReadOnly, opts.Timeout)
	if err != nil {
		return nil, err
	}
	return open(db, path, opts.ReadOnly)
}

func open(db *bolt.DB, path string, readOnly bool) (*Store, error) {
	s := &Store{db: db, path: path, abs: path}
	if a, err := filepath.Abs(path); err == nil {
		s.abs = a
	}
	if err := s.init(readOnly); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// openBolt opens the file with bbolt, turning its panics into ErrCorrupt.
func openBolt(path string, readOnly bool, timeout time.Duration) (db *bolt.DB, err error) {
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				file.Close() // releases the lock of the half-opened db
			}
			db, err = nil, fmt.Errorf("open %s: %w: %v", path, ErrCorrupt, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: readOnly, OpenFile: openFile})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, fmt.Errorf("open %s: %w: %w", path, ErrCorrupt, err)
	case err != nil && strings.Contains(err.Error(), "file size too small"):
		return nil, fmt.Errorf("open %s: %w: %w", path, ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// verify checks a file opened read-only: its pages lie inside the file,
// every key and value can be read, and every record decodes.
func verify(db *bolt.DB, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	err = viewSafe(db, func(tx *bolt.Tx) error {
		if need := tx.Size(); need > fi.Size() {
			return fmt.Errorf("truncated: its pages need %d bytes, the file has %d", need, fi.Size())
		}
		if err := checkPages(path); err != nil {
			return err
		}
		// Not tx.Check: it reads pages in a goroutine of its own, where a
		// key pointing outside the mapped file is a fatal fault (found by
		// FuzzOpen); here every byte is read where a fault is recovered.
		var sum uint32
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b, &sum) }); err != nil {
			return err
		}
		return decodeAll(tx)
	})
	if err != nil {
		return fmt.Errorf("open %s: %w: %w", path, ErrCorrupt, err)
	}
	return nil
}

// decodeAll decodes every JSON record of a gahpo file (a file without the
// meta bucket is left to init to refuse).
func decodeAll(tx *bolt.Tx) error {
	runs := tx.Bucket(bucketRuns)
	if tx.Bucket(bucketMeta) == nil || runs == nil {
		return nil
	}
	return runs.ForEachBucket(func(id []byte) error {
		b := runs.Bucket(id)
		var run gahpo.Run
		if err := getJSON(b, keyRun, "run record", &run); err != nil {
			return fmt.Errorf("run %q: %w", id, err)
		}
		if run.ID != string(id) {
			return fmt.Errorf("run %q: its record is of run %q", id, run.ID)
		}
		// each decodes every record of a run's bucket and checks it
		// (a null or {} decodes without error, as a record of nothing).
		each := func(bucket []byte, check func(k, data []byte) error) error {
			sub := b.Bucket(bucket)
			if sub == nil {
				return fmt.Errorf("run %q: no %s bucket", id, bucket)
			}
			return sub.ForEach(func(k, data []byte) error {
				if data == nil {
					return fmt.Errorf("run %q: %s %x: a bucket where a record belongs", id, bucket, k)
				}
				if err := check(k, data); err != nil {
					return fmt.Errorf("run %q: %s %x: %w", id, bucket, k, err)
				}
				return nil
			})
		}
		err := each(bucketGenomes, func(k, data []byte) error {
			var g gahpo.GenomeRecord
			switch err := json.Unmarshal(data, &g); {
			case err != nil:
				return err
			case len(k) != 8 || uint64(g.ID) != binary.BigEndian.Uint64(k) || g.Status == "":
				return fmt.Errorf("not a genome's record (id %d, status %q)", g.ID, g.Status)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = each(bucketGenerations, func(_, data []byte) error {
			var g gahpo.GenerationSummary
			return json.Unmarshal(data, &g)
		})
		if err != nil {
			return err
		}
		fb := b.Bucket(bucketFinal)
		if fb == nil {
			return fmt.Errorf("run %q: no %s bucket", id, bucketFinal)
		}
		if fb.Get(keyTraining) != nil {
			var f gahpo.FinalTraining
			if err := getJSON(fb, keyTraining, "final training", &f); err != nil {
				return fmt.Errorf("run %q: final training: %w", id, err)
			}
		}
		return nil
	})
}

// walk reads every byte of every key and value under b (a checksum of
// them into sum, so that every byte is read).
func walk(b *bolt.Bucket, sum *uint32) error {
	return b.ForEach(func(k, v []byte) error {
		*sum ^= crc32.ChecksumIEEE(k) ^ crc32.ChecksumIEEE(v)
		if v != nil {
			return nil
		}
		sub := b.Bucket(k)
		if sub == nil {
			return fmt.Errorf("key %q: neither a value nor a bucket", k)
		}
		return walk(sub, sum)
	})
}

// viewSafe is db.View with bbolt's panics (and faults on the mapped file)
// turned into errors.
func viewSafe(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return db.View(fn)
}

// view is a read transaction. A panic of bbolt on a page damaged since
// Open, or a record that does not decode, gives an error wrapping
// ErrCorrupt that names the file.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	panicked := true
	err := viewSafe(s.db, func(tx *bolt.Tx) error {
		err := fn(tx)
		panicked = false
		return err
	})
	switch {
	case panicked && err != nil:
		return fmt.Errorf("store: read %s: %w: %w", s.path, ErrCorrupt, err)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("store: read %s: %w", s.path, err)
	}
	return err
}

func (s *Store) init(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if !tx.Writable() || !isEmpty(tx) {
				return fmt.Errorf("%w: not a gahpo database (no schema version)", ErrSchema)
			}
			meta, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return fmt.Errorf("store: create the meta bucket: %w", err)
			}
			if _, err := tx.CreateBucket(bucketRuns); err != nil {
				return fmt.Errorf("store: create the runs bucket: %w", err)
			}
			if err := meta.Put(keySchema, fmt.Appendf(nil, "%d", SchemaVersion)); err != nil {
				return fmt.Errorf("store: write the schema version: %w", err)
			}
			return nil
		}
		if got := string(meta.Get(keySchema)); got != fmt.Sprint(SchemaVersion) {
			return fmt.Errorf("%w: version %q, this build reads %d", ErrSchema, got, SchemaVersion)
		}
		if tx.Bucket(bucketRuns) == nil {
			return fmt.Errorf("%w: no runs bucket", ErrSchema)
		}
		return nil
	}
	if readOnly {
		return viewSafe(s.db, check)
	}
	// A write transaction writes the meta page even when it changes
	// nothing: only a new file is written at open.
	var exists bool
	if err := viewSafe(s.db, func(tx *bolt.Tx) error { exists = tx.Bucket(bucketMeta) != nil || !isEmpty(tx); return nil }); err != nil {
		return err
	}
	if exists {
		return viewSafe(s.db, check)
	}
	return s.db.Update(check)
}

func isEmpty(tx *bolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
	return empty
}

// Path is the history file's path, made absolute when it was opened (as
// given when that failed): what a command to run on the same file, such as
// one that resumes a run, names.
func (s *Store) Path() string { return s.abs }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// ReadOnly reports whether the file was opened with Options.ReadOnly: its
// shared lock keeps every writer (a coordinator) out while it is open.
func (s *Store) ReadOnly() bool { return s.db.IsReadOnly() }

// Check verifies the file's consistency (bbolt's page check). A finding, or
// a panic of bbolt on a damaged page, gives an error wrapping ErrCorrupt that
// names the file.
func (s *Store) Check() error {
	var errs []error
	if err := viewSafe(s.db, func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	}); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("store: check %s: %w: %w", s.path, ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

func itob(v int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b
}

func runBucket(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketRuns).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("%w: run %q", ErrNotFound, id)
	}
	return b, nil
}

// keyName names key in messages: a named key by its name, an id key (8 bytes,
// big-endian) as its number.
func keyName(key []byte) string {
	for _, k := range [][]byte{keyRun, keyEngine, keyTraining, keyWeights, keySchema} {
		if bytes.Equal(key, k) {
			return string(k)
		}
	}
	if len(key) == 8 {
		return strconv.FormatUint(binary.BigEndian.Uint64(key), 10)
	}
	return fmt.Sprintf("%q", key)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", keyName(key), err)
	}
	return b.Put(key, data)
}

// getJSON decodes the value at key into v; what names it in errors.
func getJSON(b *bolt.Bucket, key []byte, what string, v any) error {
	data := b.Get(key)
	if data == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrCorrupt, what, err)
	}
	return nil
}

// CreateRun stores a new run with the engine's first checkpoint and the
// genomes of its first generation.
func (s *Store) CreateRun(run gahpo.Run, engine []byte, genomes []gahpo.GenomeRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		runs := tx.Bucket(bucketRuns)
		if runs.Bucket([]byte(run.ID)) != nil {
			return fmt.Errorf("store: run %q already exists", run.ID)
		}
		b, err := runs.CreateBucket([]byte(run.ID))
		if err != nil {
			return fmt.Errorf("store: create run %q: %w", run.ID, err)
		}
		for _, name := range [][]byte{bucketGenomes, bucketGenerations, bucketFinal} {
			if _, err := b.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := putJSON(b, keyRun, run); err != nil {
			return err
		}
		if err := b.Put(keyEngine, engine); err != nil {
			return err
		}
		return putGenomes(b, genomes)
	})
}

func putGenomes(run *bolt.Bucket, genomes []gahpo.GenomeRecord) error {
	gb := run.Bucket(bucketGenomes)
	for _, g := range genomes {
		if err := putJSON(gb, itob(g.ID), g); err != nil {
			return err
		}
	}
	return nil
}

// Change is one atomic update of a run.
type Change struct {
	// Run, when set, replaces the run record.
	Run *gahpo.Run
	// Engine, when set, replaces the engine checkpoint.
	Engine []byte
	// Genomes are written (inserted or replaced by id).
	Genomes []gahpo.GenomeRecord
	// Summaries are written (by generation).
	Summaries []gahpo.GenerationSummary
	// Final, when set, is the run's final training, stored with Weights.
	Final   *gahpo.FinalTraining
	Weights []byte
}

// Commit applies a change to run id in one transaction.
func (s *Store) Commit(id string, c Change) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		if c.Run != nil {
			if err := putJSON(b, keyRun, c.Run); err != nil {
				return err
			}
		}
		if c.Engine != nil {
			if err := b.Put(keyEngine, c.Engine); err != nil {
				return err
			}
		}
		if err := putGenomes(b, c.Genomes); err != nil {
			return err
		}
		gens := b.Bucket(bucketGenerations)
		for _, sum := range c.Summaries {
			if err := putJSON(gens, itob(sum.Generation), sum); err != nil {
				return err
			}
		}
		if c.Final != nil {
			fb := b.Bucket(bucketFinal)
			if err := putJSON(fb, keyTraining, c.Final); err != nil {
				return err
			}
			if err := fb.Put(keyWeights, c.Weights); err != nil {
				return err
			}
		}
		return nil
	})
}

// Runs lists every run, oldest first.
func (s *Store) Runs() ([]gahpo.Run, error) {
	var runs []gahpo.Run
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEachBucket(func(k []byte) error {
			var r gahpo.Run
			if err := getJSON(tx.Bucket(bucketRuns).Bucket(k), keyRun, fmt.Sprintf("run %q", k), &r); err != nil {
				return err
			}
			runs = append(runs, r)
			return nil
		})
	})
	slices.SortStableFunc(runs, func(a, b gahpo.Run) int { return a.Started.Compare(b.Started) })
	return runs, err
}

// Run returns one run; id "" means the latest.
func (s *Store) Run(id string) (gahpo.Run, error) {
	if id == "" {
		runs, err := s.Runs()
		if err != nil {
			return gahpo.Run{}, err
		}
		if len(runs) == 0 {
			return gahpo.Run{}, fmt.Errorf("%w: no run yet", ErrNotFound)
		}
		return runs[len(runs)-1], nil
	}
	var r gahpo.Run
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		return getJSON(b, keyRun, fmt.Sprintf("run %q", id), &r)
	})
	return r, err
}

// Engine returns a run's latest engine checkpoint.
func (s *Store) Engine(id string) ([]byte, error) {
	var state []byte
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		state = slices.Clone(b.Get(keyEngine))
		if state == nil {
			return fmt.Errorf("%w: engine state", ErrNotFound)
		}
		return nil
	})
	return state, err
}

// Genome returns one genome of a run.
func (s *Store) Genome(id string, genome int) (gahpo.GenomeRecord, error) {
	var g gahpo.GenomeRecord
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		if err := getJSON(b.Bucket(bucketGenomes), itob(genome), fmt.Sprintf("genome %d", genome), &g); err != nil {
			return err
		}
		return nil
	})
	return g, err
}

// Genomes returns every genome of a run in id order; generation < 0 means
// all generations.
func (s *Store) Genomes(id string, generation int) ([]gahpo.GenomeRecord, error) {
	var out []gahpo.GenomeRecord
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		return b.Bucket(bucketGenomes).ForEach(func(k, v []byte) error {
			var g gahpo.GenomeRecord
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("%w: decode genome %d: %w", ErrCorrupt, binary.BigEndian.Uint64(k), err)
			}
			if generation < 0 || g.Generation == generation {
				out = append(out, g)
			}
			return nil
		})
	})
	if err == nil && generation >= 0 && len(out) == 0 {
		return nil, fmt.Errorf("%w: generation %d", ErrNotFound, generation)
	}
	return out, err
}

// Summaries returns the summaries of a run's finished generations, in order.
func (s *Store) Summaries(id string) ([]gahpo.GenerationSummary, error) {
	var out []gahpo.GenerationSummary
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		return b.Bucket(bucketGenerations).ForEach(func(k, v []byte) error {
			var sum gahpo.GenerationSummary
			if err := json.Unmarshal(v, &sum); err != nil {
				return fmt.Errorf("%w: decode generation %d: %w", ErrCorrupt, binary.BigEndian.Uint64(k), err)
			}
			out = append(out, sum)
			return nil
		})
	})
	return out, err
}

// PutFinal stores the final training and its weights, and the run record.
func (s *Store) PutFinal(id string, run gahpo.Run, final gahpo.FinalTraining, weights []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		fb := b.Bucket(bucketFinal)
		if err := putJSON(fb, keyTraining, final); err != nil {
			return err
		}
		if err := fb.Put(keyWeights, weights); err != nil {
			return err
		}
		return putJSON(b, keyRun, run)
	})
}

// Final returns a run's final training.
func (s *Store) Final(id string) (gahpo.FinalTraining, error) {
	var f gahpo.FinalTraining
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		return getJSON(b.Bucket(bucketFinal), keyTraining, "final training", &f)
	})
	return f, err
}

// Weights returns the weights of a run's final training.
func (s *Store) Weights(id string) ([]byte, error) {
	var w []byte
	err := s.view(func(tx *bolt.Tx) error {
		b, err := runBucket(tx, id)
		if err != nil {
			return err
		}
		w = slices.Clone(b.Bucket(bucketFinal).Get(keyWeights))
		if w == nil {
			return fmt.Errorf("%w: weights", ErrNotFound)
		}
		return nil
	})
	return w, err
}

// BestPerGeneration returns, for each generation of a run that has at least
// one evaluated genome, its best genome so far (lowest fitness; ties to the
// lower id). Failed genomes rank last.
func (s *Store) BestPerGeneration(id string) ([]gahpo.GenomeRecord, error) {
	all, err := s.Genomes(id, -1)
	if err != nil {
		return nil, err
	}
	var best []gahpo.GenomeRecord
	for _, g := range all {
		if !g.Evaluated() {
			continue
		}
		if n := len(best); n == 0 || best[n-1].Generation != g.Generation {
			best = append(best, g)
			continue
		}
		if gahpo.Better(g, best[len(best)-1]) {
			best[len(best)-1] = g
		}
	}
	return best, nil
}
