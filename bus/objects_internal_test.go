package bus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo/natsserver"
)

// TestReadOfAClosedConnectionFailsAtOnce closes the connection in the
// middle of a read: the next Read fails with ErrClosed at once, not after
// the 30 s a read waits for a chunk that is late.
func TestReadOfAClosedConnectionFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	c := startAndConnect(t, "closing")       // closed below, in the middle of a read
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

// TestReadsCheckDigests: a read whose reference names another digest than
// the object's meta is refused before a chunk is read (ErrDigest: the
// object was replaced), and bytes that do not hash to the meta's digest
// fail the read at their end (a meta rewritten under the same chunks).
func TestReadsCheckDigests(t *testing.T) {
	ctx := context.Background()
	c := startAndConnect(t, "digests")
	data := bytes.Repeat([]byte("z"), 300<<10)
	ref, err := c.PutBytes(ctx, BucketData, "a", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, want string
		err        error
	}{
		{"its digest", ref.Digest, nil},
		{"no digest", "", nil},
		{"another digest", Digest([]byte("other")), ErrDigest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetBytes(ctx, BucketData, "a", tt.want)
			if !errors.Is(err, tt.err) || err == nil && !bytes.Equal(got, data) {
				t.Errorf("GetBytes: %d bytes, %v; want the object or %v", len(got), err, tt.err)
			}
		})
	}
	// The meta now says other bytes than the chunks hold.
	stream, err := c.objectStream(ctx, BucketData)
	if err != nil {
		t.Fatal(err)
	}
	subject := metaSubject(BucketData, "a")
	info, seq, err := c.readMeta(ctx, stream.CachedInfo().Config.Name, subject)
	if err != nil || info == nil {
		t.Fatalf("meta: %v, %v", info, err)
	}
	info.Digest = Digest([]byte("other"))
	if refused, err := c.writeMeta(ctx, subject, info, seq); refused || err != nil {
		t.Fatalf("rewrite the meta: refused %v, %v", refused, err)
	}
	if got, err := c.GetBytes(ctx, BucketData, "a", ""); !errors.Is(err, jetstream.ErrDigestMismatch) {
		t.Errorf("GetBytes of chunks the meta's digest does not match: %d bytes, %v; want %v", len(got), err, jetstream.ErrDigestMismatch)
	}
}

// startAndConnect starts an embedded server for the test and connects to
// it (testnats does this outside the package, but imports bus); both end
// with the test.
func startAndConnect(t *testing.T, name string) *Conn {
	t.Helper()
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := Connect(context.Background(), Options{URL: srv.URL(), Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
