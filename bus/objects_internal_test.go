package bus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gahpo/gahpo/natsserver"
)

// TestReadOfAClosedConnectionFailsAtOnce closes the connection in the
// middle of a read: the next Read fails with ErrClosed at once, not after
// the 30 s a read waits for a chunk that is late.
func TestReadOfAClosedConnectionFailsAtOnce(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx := context.Background()
	c, err := Connect(ctx, Options{URL: srv.URL(), Name: "closing"})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("y"), 4<<20) // 32 chunks: more than the reader's buffer holds
	if _, err := c.PutBytes(ctx, BucketData, "big", data); err != nil {
		t.Fatal(err)
	}
	r, err := c.openObject(ctx, BucketData, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	start := time.Now()
	n, err := io.Copy(io.Discard, r)
	took := time.Since(start)
	if !errors.Is(err, ErrClosed) {
		t.Errorf("the read after the close: %d more bytes, error %v, want ErrClosed", n, err)
	}
	if took > 5*time.Second {
		t.Errorf("the read took %v to fail, want at once", took)
	}
	t.Logf("%d more bytes, then %v after %v", n, err, took.Round(time.Millisecond))
}
