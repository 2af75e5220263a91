package store

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// FuzzRecords stores a fuzzed value where each JSON record lives (the run,
// a genome, a generation summary, the final training) and reads it through
// the public API: a value or an error wrapping ErrCorrupt, never a panic.
func FuzzRecords(f *testing.F) {
	for _, s := range []string{
		`{"id":"r","config":{"problem":"regression","ga":{"population":4,"generations":2}},"status":"running","started":"2026-12-01T08:00:00Z"}`,
		`{"id":1,"generation":0,"params":{"x":1},"genes":[1],"status":"done","fitness":0.25,"curve":[{"epoch":1,"metrics":{"val_loss":"NaN"}}]}`,
		`{"generation":0,"best":1,"fitness":"+Inf"}`,
		`{"genome_id":2,"test_loss":0.03,"test_accuracy":0.99}`,
		`null`, `[]`, `{"fitness":"-Inf"}`, `{"started":"not a time"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		st, err := Open(filepath.Join(t.TempDir(), "h.db"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		err = st.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.Bucket(bucketRuns).CreateBucket([]byte("r"))
			if err != nil {
				return err
			}
			for _, name := range [][]byte{bucketGenomes, bucketGenerations, bucketFinal} {
				if _, err := b.CreateBucket(name); err != nil {
					return err
				}
			}
			return errors.Join(b.Put(keyRun, value), b.Put(keyEngine, value),
				b.Bucket(bucketGenomes).Put(itob(1), value), b.Bucket(bucketGenerations).Put(itob(0), value),
				b.Bucket(bucketFinal).Put(keyTraining, value))
		})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: %v wraps neither ErrCorrupt nor ErrNotFound", what, err)
			}
		}
		_, err = st.Runs()
		check("Runs", err)
		_, err = st.Run("r")
		check("Run", err)
		_, err = st.Genome("r", 1)
		check("Genome", err)
		_, err = st.Genomes("r", -1)
		check("Genomes", err)
		_, err = st.Summaries("r")
		check("Summaries", err)
		_, err = st.Final("r")
		check("Final", err)
		_, err = st.BestPerGeneration("r")
		check("BestPerGeneration", err)
	})
}
