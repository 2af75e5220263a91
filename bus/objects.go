package bus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
)

// Digest is the object store's form of a SHA-256 digest.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return digestForm(sum[:])
}

func digestForm(sum []byte) string { return "SHA-256=" + base64.URLEncoding.EncodeToString(sum) }

// DigestFile is the digest (as Digest) of the file at path, read as a
// stream: a data set's file need not fit in memory to be checked.
func DigestFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("bus: digest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("bus: digest %s: %w", path, err)
	}
	return digestForm(h.Sum(nil)), nil
}

// objectStore opens a bucket, creating it when missing. An existing bucket
// is left as it is (its replicas set by the coordinator's EnsureStreams), and
// a worker needs only the right to look it up.
func (c *Conn) objectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error) {
	obs, err := c.js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = c.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:   bucket,
			Storage:  jetstream.FileStorage,
			Replicas: c.streams.withDefaults().Replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	return obs, nil
}

// PutFile stores a file in an object store bucket under its base name,
// unless an object with the same name and digest is already there.
func (c *Conn) PutFile(ctx context.Context, bucket, path string) (gahpo.DataRef, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return gahpo.DataRef{}, fmt.Errorf("bus: read %s: %w", path, err)
	}
	return c.PutBytes(ctx, bucket, filepath.Base(path), data)
}

// dataPrefix begins the name of a data set's object: DataObjectName.
const dataPrefix = "sha256-"

// DataObjectName is the name a data set's file is kept under in
// [BucketData]: its content's SHA-256 in hex, then its file name
// ("sha256-<hex>/train.csv"), given the digest in [Digest]'s form. Two
// runs' files of one name but other bytes never share an object (under
// the file name alone, the later put replaced the earlier run's data), and
// a file two runs share is stored once. A worker, of any version, writes
// the object under the part after the last slash: the trainer finds its
// file under its own name.
func DataObjectName(digest, name string) (string, error) {
	b64, ok := strings.CutPrefix(digest, "SHA-256=")
	sum, err := base64.URLEncoding.DecodeString(b64)
	if !ok || err != nil || len(sum) != sha256.Size {
		return "", fmt.Errorf("bus: data object %s: digest %q is not a SHA-256", name, digest)
	}
	return dataPrefix + hex.EncodeToString(sum) + "/" + filepath.Base(name), nil
}

// IsDataObjectName tells whether name is one of DataObjectName's, rather
// than a file name alone (as coordinators before it named data sets).
func IsDataObjectName(name string) bool {
	sum, base, ok := strings.Cut(strings.TrimPrefix(name, dataPrefix), "/")
	if !strings.HasPrefix(name, dataPrefix) || !ok || base == "" || len(sum) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(sum)
	return err == nil
}

// PutData stores the file at path in [BucketData] under its
// DataObjectName, unless that object is already there; the reference's
// Name is that object's.
func (c *Conn) PutData(ctx context.Context, path string) (gahpo.DataRef, error) {
	name, data, err := readData(path)
	if err != nil {
		return gahpo.DataRef{}, err
	}
	return c.PutBytes(ctx, BucketData, name, data)
}

// readData reads the data file at path, and gives its DataObjectName.
func readData(path string) (string, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("bus: read %s: %w", path, err)
	}
	name, err := DataObjectName(Digest(data), filepath.Base(path))
	return name, data, err
}

// PutBytes stores data in an object store bucket, unless an object with the
// same name and digest is already there.
func (c *Conn) PutBytes(ctx context.Context, bucket, name string, data []byte) (gahpo.DataRef, error) {
	obs, err := c.objectStore(ctx, bucket)
	if err != nil {
		return gahpo.DataRef{}, err
	}
	ref := gahpo.DataRef{Bucket: bucket, Name: name, Digest: Digest(data), Size: uint64(len(data))}
	if info, err := obs.GetInfo(ctx, name); err == nil && info.Digest == ref.Digest {
		return ref, nil
	}
	info, err := obs.PutBytes(ctx, name, data)
	if err != nil {
		return gahpo.DataRef{}, fmt.Errorf("bus: put %s/%s: %w", bucket, name, err)
	}
	if info.Digest != ref.Digest {
		return gahpo.DataRef{}, fmt.Errorf("bus: put %s/%s: server digest %s, want %s", bucket, name, info.Digest, ref.Digest)
	}
	return ref, nil
}

// ErrDigest is returned by GetBytes when an object does not hold what its
// digest says was stored: it was replaced since.
var ErrDigest = errors.New("bus: object replaced (its digest differs from the one stored)")

// IsNotFound tells whether err says an object, or its whole bucket, is
// not in the object store.
func IsNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrBucketNotFound)
}

// GetBytes reads an object and checks its digest when want is not empty.
func (c *Conn) GetBytes(ctx context.Context, bucket, name, want string) ([]byte, error) {
	obj, err := c.openObject(ctx, bucket, name)
	if err != nil {
		return nil, fmt.Errorf("bus: get %s/%s: %w", bucket, name, err)
	}
	defer obj.Close()
	// The reader checks the bytes against the meta's digest at their end:
	// the meta's digest being want, nothing is hashed twice.
	if want != "" && obj.info.Digest != want {
		return nil, fmt.Errorf("%w: get %s/%s: digest %s, want %s", ErrDigest, bucket, name, obj.info.Digest, want)
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("bus: get %s/%s: %w", bucket, name, err)
	}
	return data, nil
}

// openObject opens bucket/name for reading; the caller closes it.
//
// An object that is not found is looked for again, twice, within
// notFoundWait: the objects read here (data sets, checkpoints) are named in
// a task only once their put was acknowledged. Descriptions are read from
// the stream's leader (openObjectOnce), which holds every acknowledged put;
// the second look stays as a margin for what no test here has made (a
// leader elected in between, say), and costs only reads that would fail.
func (c *Conn) openObject(ctx context.Context, bucket, name string) (*objectReader, error) {
	for wait := notFoundWait / 3; ; wait *= 2 {
		obj, err := c.openObjectOnce(ctx, bucket, name)
		if !errors.Is(err, jetstream.ErrObjectNotFound) || wait > notFoundWait {
			return obj, err
		}
		if beforeLookAgain != nil {
			beforeLookAgain(name)
		}
		if sleepCtx(ctx, wait) != nil {
			return nil, err
		}
	}
}

// beforeLookAgain, when not nil, runs when openObject has not found an
// object and is about to look again: the tests' way to put it in between.
var beforeLookAgain func(name string)

// notFoundWait is about how long openObject looks again for an object that
// is not found (1/3 of it, then 2/3).
const notFoundWait = 600 * time.Millisecond

// objectSetupTimeout is the least time openObject gives the server to
// answer a request about the consumer of an object's chunks: its creation,
// its creation again after a server restart, its deletion (a variable for
// the tests). A context with a later deadline gives more, up to
// objectSetupMax.
var objectSetupTimeout = 5 * time.Second

// objectSetupMax is the most time openObject gives those requests.
const objectSetupMax = 30 * time.Second

// objectStallTimeout is how long a read waits for an object's next chunk
// before it fails. The consumer of the chunks sends heartbeats every 5 s;
// nats.go checks for them every 10 s and, once connected again, creates
// the consumer anew where it stopped: a read survives a server's restart
// of 10-25 s, and one that waits longer waits for a server that is not
// coming back soon.
const objectStallTimeout = 30 * time.Second

// openObjectOnce is openObject without the second look.
//
// It is nats.go's ObjectStore.Get written again, for two reasons. Get reads
// the object's meta by a direct get, which any replica of a replicated
// stream may answer with what it has applied so far; this reads it from the
// stream's leader. And Get's chunk handler writes each chunk into a pipe
// and blocks until it is read; when Get fails after the consumer was
// created (its context ended, or the server went away while it waited for
// the consumer's answer), it returns the error without closing that pipe,
// and a chunk the server had already sent blocks the handler, and its
// subscription, for good (nats.go v1.55, v1.56). Here the handler hands
// chunks over or gives up when the reader is closed, whatever happened.
func (c *Conn) openObjectOnce(ctx context.Context, bucket, name string) (*objectReader, error) {
	stream := objectStreamName(bucket)
	info, _, err := c.readMeta(ctx, stream, metaSubject(bucket, name))
	switch {
	case err != nil:
		return nil, err
	case info == nil:
		return nil, jetstream.ErrObjectNotFound
	case info.Opts != nil && info.Opts.Link != nil:
		return nil, fmt.Errorf("%s is a link to %s/%s: gahpo writes none", name, info.Opts.Link.Bucket, info.Opts.Link.Name)
	}
	r := &objectReader{ctx: ctx, nc: c.nc, info: info, h: sha256.New(), chunks: make(chan *nats.Msg, 4), done: make(chan struct{}), gone: make(chan struct{})}
	if info.Size == 0 {
		return r, nil
	}
	setup := objectSetupTimeout
	if dl, ok := ctx.Deadline(); ok {
		setup = max(setup, min(time.Until(dl), objectSetupMax))
	}
	js, err := c.nc.JetStream(nats.MaxWait(setup))
	if err != nil {
		return nil, err
	}
	r.sub, err = js.Subscribe("$O."+bucket+".C."+info.NUID, r.handle, nats.OrderedConsumer(), nats.BindStream(stream))
	if err != nil {
		r.Close() // a handler already given a chunk returns
		return nil, closed(c.nc, err)
	}
	// The subscription ends without Close when the connection closes for
	// good or nats.go gives up creating the consumer again: the read fails
	// then, not after objectStallTimeout.
	r.sub.SetClosedHandler(func(string) { r.goneOnce.Do(func() { close(r.gone) }) })
	if !r.sub.IsValid() { // ended before the handler was set
		r.goneOnce.Do(func() { close(r.gone) })
	}
	return r, nil
}

// objectReader reads one object's chunks, in order, as a stream of bytes;
// the digest of all of them must be the meta's. It is read from one
// goroutine.
type objectReader struct {
	ctx      context.Context
	nc       *nats.Conn
	info     *jetstream.ObjectInfo
	sub      *nats.Subscription // nil for an empty object
	chunks   chan *nats.Msg     // from handle to Read
	done     chan struct{}      // closed by Close: handle gives up
	once     sync.Once
	gone     chan struct{} // closed when the subscription ended
	goneOnce sync.Once

	buf  []byte    // what Read has yet to return of the last chunk
	got  uint64    // bytes of the object received
	h    hash.Hash // of those bytes
	err  error     // what Read returns from now on
	stop *time.Timer
}

// handle is the subscription's handler: it hands a chunk to the reader,
// or drops it once the reader is closed.
func (r *objectReader) handle(m *nats.Msg) {
	select {
	case r.chunks <- m:
	case <-r.done:
	}
}

// Read implements io.Reader. It fails when the object's context ends,
// when no chunk came for objectStallTimeout, when the chunks hold more or
// fewer bytes than the meta says, or at their end when their digest is not
// the meta's.
func (r *objectReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 && r.err == nil {
		r.err = r.next()
	}
	if len(r.buf) == 0 {
		return 0, r.err
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// next fills buf with the next chunk, or says why it cannot: io.EOF after
// the last one.
func (r *objectReader) next() error {
	if r.got == r.info.Size {
		if d := digestForm(r.h.Sum(nil)); d != r.info.Digest {
			return fmt.Errorf("%w: %s: read %s, meta %s", jetstream.ErrDigestMismatch, r.info.Name, d, r.info.Digest)
		}
		return io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if r.stop == nil {
		r.stop = time.NewTimer(objectStallTimeout)
	} else {
		r.stop.Reset(objectStallTimeout)
	}
	select {
	case m := <-r.chunks:
		return r.take(m)
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-r.gone:
		select { // chunks handed over before the end are still good
		case m := <-r.chunks:
			return r.take(m)
		default:
		}
		return closed(r.nc, fmt.Errorf("%s: its subscription ended after %d of its %d bytes", r.info.Name, r.got, r.info.Size))
	case <-r.stop.C:
		return closed(r.nc, fmt.Errorf("%s: no chunk for %s after %d of its %d bytes", r.info.Name, objectStallTimeout, r.got, r.info.Size))
	}
}

// take makes m the next chunk of the object.
func (r *objectReader) take(m *nats.Msg) error {
	r.got += uint64(len(m.Data))
	if r.got > r.info.Size {
		return fmt.Errorf("%s: chunks hold more than its %d bytes", r.info.Name, r.info.Size)
	}
	if meta, err := m.Metadata(); err == nil && meta.NumPending == 0 && r.got < r.info.Size {
		return fmt.Errorf("%s: chunks end after %d of its %d bytes", r.info.Name, r.got, r.info.Size)
	}
	r.h.Write(m.Data)
	r.buf = m.Data
	return nil
}

// Close ends the subscription and returns at once; the handler drops what
// still comes. The consumer's deletion, a request to the server that
// Unsubscribe waits for, is made on a goroutine of its own: it ends with
// the server's answer, after the setup time, or when the connection
// closes, and a reader whose server is away does not wait for it.
func (r *objectReader) Close() error {
	r.once.Do(func() {
		close(r.done)
		if r.stop != nil {
			r.stop.Stop()
		}
		if r.sub != nil {
			go func() { _ = r.sub.Unsubscribe() }()
		}
	})
	return nil
}

// ObjectDigest is the digest the object store keeps for an object (in
// Digest's form, which reading the object checks its bytes against): what a
// reference that carries no digest of its own (an older coordinator's) is
// checked against.
func (c *Conn) ObjectDigest(ctx context.Context, bucket, name string) (string, error) {
	info, _, err := c.readMeta(ctx, objectStreamName(bucket), metaSubject(bucket, name))
	if err == nil && info == nil {
		err = jetstream.ErrObjectNotFound
	}
	if err != nil {
		return "", fmt.Errorf("bus: object %s/%s: %w", bucket, name, err)
	}
	return info.Digest, nil
}

// Fetch makes sure dir holds the object ref names with the right digest,
// downloading it when it is missing or differs. Files are written to a
// temporary name and renamed, so a crash never leaves a partial file.
func (c *Conn) Fetch(ctx context.Context, ref gahpo.DataRef, dir string) (string, error) {
	path := filepath.Join(dir, filepath.Base(ref.Name))
	if d, err := DigestFile(path); err == nil && d == ref.Digest {
		return path, nil
	}
	data, err := c.GetBytes(ctx, ref.Bucket, ref.Name, ref.Digest)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bus: cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return "", fmt.Errorf("bus: cache %s: %w", ref.Name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("bus: cache %s: %w", ref.Name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("bus: cache %s: %w", ref.Name, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("bus: cache %s: %w", ref.Name, err)
	}
	return path, nil
}
