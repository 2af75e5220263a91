package bus_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

// BenchmarkObjectRead reads a 10 MB object (MNIST's training images are
// 9.9 MB; a CNN checkpoint is of that size too) from an embedded server,
// with bus's reader and with nats.go's ObjectStore.Get, which it replaced,
// each first every other time, and reports both speeds and their ratio:
//
//	go test -run '^$' -bench ObjectRead ./bus
func BenchmarkObjectRead(b *testing.B) {
	srv := testnats.Start(b)
	c := testnats.Connect(b, srv, "bench")
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1_000_000)
	ref, err := c.PutBytes(ctx, bus.BucketData, "big", data)
	if err != nil {
		b.Fatal(err)
	}
	obs, err := rawJetStream(b, srv, "", "").ObjectStore(ctx, bus.BucketData)
	if err != nil {
		b.Fatal(err)
	}
	var ours, theirs time.Duration
	readOurs := func() {
		start := time.Now()
		got, err := c.GetBytes(ctx, bus.BucketData, "big", ref.Digest)
		if err != nil || len(got) != len(data) {
			b.Fatalf("bus: %d bytes, %v", len(got), err)
		}
		ours += time.Since(start)
	}
	readTheirs := func() {
		start := time.Now()
		obj, err := obs.Get(ctx, "big")
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || len(got) != len(data) {
			b.Fatalf("nats.go: %d bytes, %v", len(got), err)
		}
		theirs += time.Since(start)
	}
	for i := 0; b.Loop(); i++ { // each first every other time
		if i%2 == 0 {
			readOurs()
			readTheirs()
		} else {
			readTheirs()
			readOurs()
		}
	}
	mb := float64(b.N) * float64(len(data)) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "bus-MB/s")
	b.ReportMetric(mb/theirs.Seconds(), "natsgo-MB/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
}
