package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gahpo/gahpo"
)

// TestOpenRefusesRecordsOfNothing: damage that leaves valid JSON or
// bbolt structure where a record belongs (null, {}, another id, a bucket,
// a run without its final bucket) is refused when the file is opened,
// naming the run and the key, instead of being shown as genome 0 or
// failing every reader later with a nil dereference.
func TestOpenRefusesRecordsOfNothing(t *testing.T) {
	tests := []struct {
		name   string
		damage func(run *bolt.Bucket) error
		want   string
	}{
		{"a genome null", func(b *bolt.Bucket) error { return b.Bucket(bucketGenomes).Put(itob(1), []byte("null")) },
			`run "r": genomes 0000000000000001: not a genome's record (id 0, status "")`},
		{"a genome {}", func(b *bolt.Bucket) error { return b.Bucket(bucketGenomes).Put(itob(1), []byte("{}")) },
			`not a genome's record`},
		{"a genome under another's key", func(b *bolt.Bucket) error {
			return b.Bucket(bucketGenomes).Put(itob(7), []byte(`{"id":1,"status":"done"}`))
		}, `genomes 0000000000000007: not a genome's record (id 1, status "done")`},
		{"the run record null", func(b *bolt.Bucket) error { return b.Put(keyRun, []byte("null")) },
			`run "r": its record is of run ""`},
		{"a bucket among the genomes", func(b *bolt.Bucket) error {
			_, err := b.Bucket(bucketGenomes).CreateBucket(itob(100000))
			return err
		}, `a bucket where a record belongs`},
		{"no final bucket", func(b *bolt.Bucket) error { return b.DeleteBucket(bucketFinal) },
			`run "r": no final bucket`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h.db")
			st, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			run := gahpo.Run{ID: "r", Status: gahpo.RunRunning, Started: time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)}
			rec := gahpo.GenomeRecord{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.5}
			if err := st.CreateRun(run, []byte(`{}`), []gahpo.GenomeRecord{rec}); err != nil {
				t.Fatal(err)
			}
			if err := st.db.Update(func(tx *bolt.Tx) error { return tt.damage(tx.Bucket(bucketRuns).Bucket([]byte("r"))) }); err != nil {
				t.Fatal(err)
			}
			st.Close()
			st, err = Open(path, Options{ReadOnly: true})
			if err == nil {
				st.Close()
				t.Fatal("opened, want the damage refused")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("open: %v; want ErrCorrupt with %q", err, tt.want)
			}
		})
	}
}
