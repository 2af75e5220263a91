package bus_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

// A worker killed during its upload leaves the chunks it wrote and no
// object (nor may a worker purge them): SweepChunks removes those older
// than it is told, and nothing of a stored object or of an upload that is
// still young.
func TestSweepChunks(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("checkpoint"), 40000) // 400 kB: 4 chunks
	ref, err := c.PutBytes(ctx, bus.BucketCheckpoints, "r1-1-e1-x", data)
	if err != nil {
		t.Fatal(err)
	}
	js := rawJetStream(t, srv, "", "")
	// The chunks of an upload cut off, as nats.go writes them.
	for range 3 {
		if _, err := js.Publish(ctx, "$O."+bus.BucketCheckpoints+".C.ORPHANNUID0123456789", make([]byte, 128<<10)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		olderThan       time.Duration
		uploads, chunks int
	}{
		{time.Hour, 0, 0}, // as young as an upload under way: kept
		{0, 1, 3},
		{0, 0, 0}, // nothing left
	} {
		uploads, chunks, err := c.SweepChunks(ctx, bus.BucketCheckpoints, tt.olderThan)
		if err != nil || uploads != tt.uploads || chunks != tt.chunks {
			t.Errorf("SweepChunks(older than %v) = %d uploads, %d chunks, %v; want %d, %d", tt.olderThan, uploads, chunks, err, tt.uploads, tt.chunks)
		}
	}
	got, err := c.GetBytes(ctx, bus.BucketCheckpoints, ref.Name, ref.Digest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the stored object after the sweeps: %d bytes, %v", len(got), err)
	}
	if n, _, err := c.SweepChunks(ctx, "no-such-bucket", 0); n != 0 || err != nil {
		t.Errorf("a bucket that does not exist: %d, %v", n, err)
	}
}
