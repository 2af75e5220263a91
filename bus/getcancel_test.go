package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

// TestGetBytesCancelledLeavesNothing reads an object with contexts that end
// at every stage of the read (looking the object up, creating the
// consumer, streaming its chunks): none of those reads may leave a chunk
// handler behind. nats.go's Get leaves one blocked for good when its
// context ends while it creates its consumer (15 of these 2,000 reads did,
// before openObject read objects itself).
func TestGetBytesCancelledLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 2,000 reads")
	}
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "cancel")
	ctx := context.Background()
	data := make([]byte, 512<<10)
	ref, err := c.PutBytes(ctx, bus.BucketData, "big", data)
	if err != nil {
		t.Fatal(err)
	}
	var ok, ended int
	for i := range 2000 {
		k := time.Duration(i % 100)
		dl := time.Now().Add(k * k * 2 * time.Microsecond) // 0 to 20 ms, most of them short
		cctx, cancel := context.WithDeadline(ctx, dl)
		got, err := c.GetBytes(cctx, bus.BucketData, "big", ref.Digest)
		expired := !time.Now().Before(dl)
		cancel()
		switch {
		case err == nil && len(got) == len(data):
			ok++
		case err != nil && expired:
			ended++
		default:
			t.Fatalf("read %d: %d bytes, err %v: want all of it or the context's end", i, len(got), err)
		}
	}
	t.Logf("%d reads whole, %d ended by their context", ok, ended)
	if ended == 0 {
		t.Fatal("no read was cut short: the test tests nothing")
	}
	// The handlers of ended reads return once their reader is closed.
	if n := stillRunning("bus.(*objectReader).handle"); n > 0 {
		t.Fatalf("%d object chunk handlers left blocked after the reads ended", n)
	}
}
