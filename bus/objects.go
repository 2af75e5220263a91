package bus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	obs, err := c.js.ObjectStore(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	obj, err := openObject(ctx, obs, name)
	if err != nil {
		return nil, fmt.Errorf("bus: get %s/%s: %w", bucket, name, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("bus: get %s/%s: %w", bucket, name, readErr(ctx, err))
	}
	if want != "" && Digest(data) != want {
		return nil, fmt.Errorf("%w: get %s/%s: digest %s, want %s", ErrDigest, bucket, name, Digest(data), want)
	}
	return data, nil
}

// openObject is obs.Get(ctx, name) without nats.go's leak on cancellation:
// when Get's context ends while it creates its consumer, Get returns the
// error without closing the pipe its chunk handler writes to, and a chunk
// the server had already sent blocks that handler (and its subscription)
// for good (nats.go v1.55, v1.56). So Get is given neither ctx's
// cancellation nor a deadline sooner than objectSetupTimeout, and the end
// of ctx closes the result instead, which ends the handler's writes, and
// the reader's reads from the next one on (Close waits for a read under
// way, which returns on data or at its deadline). The caller closes the
// result.
//
// An object that is not found is looked for again, twice, within
// notFoundWait: the objects read here (data sets, checkpoints) are named in
// a task only once their put was acknowledged, but Get reads their meta by
// a direct get, which any replica of a replicated stream may answer with
// what it has applied so far. Without the second look a follower a few
// milliseconds behind failed the attempt.
func openObject(ctx context.Context, obs jetstream.ObjectStore, name string) (jetstream.ObjectResult, error) {
	for wait := notFoundWait / 3; ; wait *= 2 {
		obj, err := openObjectOnce(ctx, obs, name)
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

// openObjectOnce is openObject without the second look.
func openObjectOnce(ctx context.Context, obs jetstream.ObjectStore, name string) (jetstream.ObjectResult, error) {
	gctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		gctx, cancel = context.WithDeadline(gctx, later(dl, time.Now().Add(objectSetupTimeout)))
	}
	obj, err := obs.Get(gctx, name)
	if err != nil {
		cancel()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { obj.Close() })
	return &closer{ObjectResult: obj, done: func() { stop(); cancel() }}, nil
}

// objectSetupTimeout is the least time openObject gives Get to set up.
const objectSetupTimeout = 5 * time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// closer is an object store result whose Close also runs done.
type closer struct {
	jetstream.ObjectResult
	done func()
}

func (c *closer) Close() error {
	err := c.ObjectResult.Close()
	c.done()
	return err
}

// readErr is err, or ctx's error when ctx ended: openObject's result was
// then closed under its reader, which reads a closed pipe.
func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ObjectDigest is the digest the object store keeps for an object (in
// Digest's form, which reading the object checks its bytes against): what a
// reference that carries no digest of its own (an older coordinator's) is
// checked against.
func (c *Conn) ObjectDigest(ctx context.Context, bucket, name string) (string, error) {
	obs, err := c.js.ObjectStore(ctx, bucket)
	if err != nil {
		return "", fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	info, err := obs.GetInfo(ctx, name)
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
