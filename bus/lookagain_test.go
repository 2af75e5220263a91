package bus_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

// TestReadsLookAgainForAnObjectNotFound puts an object between a read's
// first look, which does not find it, and its second, as a replica a few
// milliseconds behind the leader would answer: the read gets it. An object
// that stays missing is still not found, after the looks.
func TestReadsLookAgainForAnObjectNotFound(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "again")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := bytes.Repeat([]byte("x"), 200<<10)
	ckpt := t.TempDir()
	if err := os.WriteFile(filepath.Join(ckpt, "state.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Both buckets exist; the objects do not yet.
	if _, err := c.PutBytes(ctx, bus.BucketData, "other", []byte("o")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutDir(ctx, bus.BucketCheckpoints, "other", ckpt); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		put  func() error
		read func() error
	}{
		{"GetBytes",
			func() error { _, err := c.PutBytes(ctx, bus.BucketData, "late", data); return err },
			func() error {
				got, err := c.GetBytes(ctx, bus.BucketData, "late", bus.Digest(data))
				if err == nil && !bytes.Equal(got, data) {
					t.Errorf("GetBytes read %d bytes, want the %d put", len(got), len(data))
				}
				return err
			}},
		{"GetDir",
			func() error { _, err := c.PutDir(ctx, bus.BucketCheckpoints, "late", ckpt); return err },
			func() error {
				dir := t.TempDir()
				err := c.GetDir(ctx, gahpo.ObjectRef{Bucket: bus.BucketCheckpoints, Name: "late"}, dir)
				if err == nil {
					if got, rerr := os.ReadFile(filepath.Join(dir, "state.bin")); rerr != nil || !bytes.Equal(got, data) {
						t.Errorf("GetDir unpacked %d bytes (%v), want the %d put", len(got), rerr, len(data))
					}
				}
				return err
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			looks := 0
			undo := bus.SetBeforeLookAgain(func(string) {
				looks++
				if looks == 1 {
					if err := tt.put(); err != nil {
						t.Errorf("put: %v", err)
					}
				}
			})
			defer undo()
			if err := tt.read(); err != nil {
				t.Fatalf("read of an object put after the first look: %v", err)
			}
			if looks != 1 {
				t.Errorf("looked again %d times, want 1", looks)
			}
		})
	}

	looks := 0
	undo := bus.SetBeforeLookAgain(func(string) { looks++ })
	defer undo()
	start := time.Now()
	_, err := c.GetBytes(ctx, bus.BucketData, "never", "")
	if !bus.IsNotFound(err) {
		t.Errorf("GetBytes of an object never put: %v, want not found", err)
	}
	if looks != 2 {
		t.Errorf("looked again %d times for an object never put, want 2", looks)
	}
	t.Logf("not found after %s", time.Since(start).Round(time.Millisecond))
}
