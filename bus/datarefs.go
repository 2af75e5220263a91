package bus

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
)

// A data set's object in BucketData is shared by every run whose data
// holds its bytes (DataObjectName). Each run that uses one marks it with a
// metadata key of its own (runDataKey), and releases it when the run ends
// or is purged; the release that removes the last mark deletes the object.
// Uploads, marks and the deletion are compare-and-set writes of the
// object's meta message (the meta subject's last sequence is expected), so
// a run that marks an object while another run's release deletes it
// either lands first (the object stays) or finds the object gone and puts
// it again, and two runs that upload it at once end with one upload and
// both marks (PutRunData). An object without any mark (put by a
// coordinator older than the marks) is never deleted.

// runDataPrefix begins the metadata keys that mark a data object as used.
const runDataPrefix = "gahpo-run-"

// runDataKey is the metadata key by which run marks a data object.
func runDataKey(run string) string { return runDataPrefix + run }

// errDataGone says that the object to release is not there (any more).
var errDataGone = errors.New("bus: data object gone")

// casRetries bounds the compare-and-set attempts on one meta message.
const casRetries = 20

// PutRunData is PutData with the object marked as used by run, so that
// no other run's release deletes it while run uses it (ReleaseData). The
// object's meta message, with the mark, is written on the condition that
// its subject is as read: an object that is missing (or deleted) is
// uploaded under chunks of its own and published only if no other put or
// release came in between (else those chunks are purged and it reads
// again); one that is there gets the mark added. Unlike nats.go's Put,
// which writes its meta unconditionally, a put racing another run's never
// wipes that run's mark.
func (c *Conn) PutRunData(ctx context.Context, path, run string) (gahpo.DataRef, error) {
	name, data, err := readData(path)
	if err != nil {
		return gahpo.DataRef{}, err
	}
	ref := gahpo.DataRef{Bucket: BucketData, Name: name, Digest: Digest(data), Size: uint64(len(data))}
	if _, err := c.objectStore(ctx, BucketData); err != nil {
		return gahpo.DataRef{}, err
	}
	stream, err := c.objectStream(ctx, BucketData)
	if err != nil {
		return gahpo.DataRef{}, fmt.Errorf("bus: %w", err)
	}
	subject := metaSubject(BucketData, name)
	key := runDataKey(run)
	for attempt := range casRetries {
		if err := casBackoff(ctx, attempt); err != nil {
			return gahpo.DataRef{}, err
		}
		info, seq, err := c.readMeta(ctx, stream.CachedInfo().Config.Name, subject)
		if err != nil {
			return gahpo.DataRef{}, fmt.Errorf("bus: put %s/%s: %w", BucketData, name, err)
		}
		var old, put string // the chunks of the object replaced, and of this upload
		switch {
		case info != nil && info.Digest == ref.Digest && info.Metadata[key] != "":
			return ref, nil
		case info != nil && info.Digest == ref.Digest:
			info.Metadata = maps.Clone(info.Metadata)
		default: // missing, deleted, or other bytes (a coordinator before DataObjectName)
			if info != nil {
				old = info.NUID
			}
			if info, err = c.putChunks(ctx, stream, ref, data); err != nil {
				return gahpo.DataRef{}, fmt.Errorf("bus: put %s/%s: %w", BucketData, name, err)
			}
			put = info.NUID
		}
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
		info.Metadata[key] = time.Now().UTC().Format(time.RFC3339)
		refused, err := c.writeMeta(ctx, subject, info, seq)
		if refused && put != "" {
			_ = purgeChunks(ctx, stream, BucketData, put) // never named by a meta message
		}
		if refused {
			continue
		}
		if err != nil { // maybe written: the chunks stay
			return gahpo.DataRef{}, fmt.Errorf("bus: mark %s/%s as run %s's: %w", BucketData, name, run, err)
		}
		if old != "" {
			_ = purgeChunks(ctx, stream, BucketData, old)
		}
		return ref, nil
	}
	return gahpo.DataRef{}, fmt.Errorf("bus: put %s/%s for run %s: %d other writes came in between", BucketData, name, run, casRetries)
}

// putChunks publishes data, whose digest and size ref holds, as the
// chunks of a new upload of ref's object, as nats.go's Put does, and
// returns the meta that names them (not yet written). The chunks are
// purged if one fails.
func (c *Conn) putChunks(ctx context.Context, stream jetstream.Stream, ref gahpo.DataRef, data []byte) (*jetstream.ObjectInfo, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	bucket := ref.Bucket
	info := &jetstream.ObjectInfo{
		ObjectMeta: jetstream.ObjectMeta{Name: ref.Name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunkSize}},
		Bucket:     bucket,
		NUID:       hex.EncodeToString(id),
		Size:       ref.Size,
		Digest:     ref.Digest,
	}
	subject := "$O." + bucket + ".C." + info.NUID
	var acks []jetstream.PubAckFuture
	for off := 0; off < len(data); off += chunkSize {
		f, err := c.js.PublishAsync(subject, data[off:min(off+chunkSize, len(data))])
		if err != nil {
			_ = purgeChunks(context.WithoutCancel(ctx), stream, bucket, info.NUID)
			return nil, err
		}
		acks = append(acks, f)
		info.Chunks++
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
			continue
		case err := <-f.Err():
			_ = purgeChunks(context.WithoutCancel(ctx), stream, bucket, info.NUID)
			return nil, err
		case <-ctx.Done():
			_ = purgeChunks(context.WithoutCancel(ctx), stream, bucket, info.NUID)
			return nil, ctx.Err()
		}
	}
	return info, nil
}

// chunkSize is the size of an object's chunks, nats.go's default.
const chunkSize = 128 << 10

// casBackoff waits a little before a compare-and-set attempt after the
// first, more each time, so that writers that keep colliding spread out.
func casBackoff(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return nil
	}
	return sleepCtx(ctx, time.Duration(min(attempt, 10))*5*time.Millisecond)
}

// ReleaseData removes run's mark from the data objects it marked, and
// deletes those that no other run marks any more. It returns how many it
// deleted; it goes on past an object it cannot release and returns the
// first error.
func (c *Conn) ReleaseData(ctx context.Context, run string) (int, error) {
	obs, err := c.js.ObjectStore(ctx, BucketData)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bus: object store %s: %w", BucketData, err)
	}
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bus: list %s: %w", BucketData, err)
	}
	stream, err := c.objectStream(ctx, BucketData)
	if err != nil {
		return 0, fmt.Errorf("bus: %w", err)
	}
	deleted, first := 0, error(nil)
	for _, info := range infos {
		if info.Metadata[runDataKey(run)] == "" {
			continue
		}
		gone, err := c.release(ctx, stream, info.Name, run)
		if gone {
			deleted++
		}
		if err != nil && first == nil {
			first = fmt.Errorf("bus: release %s/%s from run %s: %w", BucketData, info.Name, run, err)
		}
	}
	return deleted, first
}

// release removes run's mark from the data object name, and deletes the
// object when no other run marks it; it tells whether it deleted it.
func (c *Conn) release(ctx context.Context, stream jetstream.Stream, name, run string) (bool, error) {
	var gone bool
	var nuid string
	err := c.updateMeta(ctx, stream, BucketData, name, func(info *jetstream.ObjectInfo) (bool, error) {
		// What this attempt reads (an earlier one's write was refused):
		// the upload may be another since the listing.
		gone, nuid = false, info.NUID
		if info.Metadata[runDataKey(run)] == "" {
			return false, nil
		}
		info.Metadata = maps.Clone(info.Metadata)
		delete(info.Metadata, runDataKey(run))
		gone = !slices.ContainsFunc(slices.Collect(maps.Keys(info.Metadata)), func(k string) bool { return strings.HasPrefix(k, runDataPrefix) })
		if gone { // the deletion marker nats.go's Delete writes
			info.Deleted = true
			info.Size, info.Chunks, info.Digest = 0, 0, ""
		}
		return true, nil
	})
	switch {
	case errors.Is(err, errDataGone):
		return false, nil
	case err != nil:
		return false, err
	case !gone:
		return false, nil
	}
	return true, purgeChunks(ctx, stream, BucketData, nuid)
}

// beforeMetaWrite, when not nil, runs between updateMeta's read and its
// write: the tests' way to make another write come in between.
var beforeMetaWrite func(name string)

// updateMeta reads the meta message of bucket/name, lets change edit it
// (it returns whether it did), and writes the edit back on the condition
// that no other write came in between, trying again with what came when
// one did. A missing or deleted object is errDataGone.
func (c *Conn) updateMeta(ctx context.Context, stream jetstream.Stream, bucket, name string, change func(*jetstream.ObjectInfo) (bool, error)) error {
	subject := metaSubject(bucket, name)
	for attempt := range casRetries {
		if err := casBackoff(ctx, attempt); err != nil {
			return err
		}
		info, seq, err := c.readMeta(ctx, stream.CachedInfo().Config.Name, subject)
		if err != nil {
			return err
		}
		if info == nil {
			return errDataGone
		}
		changed, err := change(info)
		if err != nil || !changed {
			return err
		}
		refused, err := c.writeMeta(ctx, subject, info, seq)
		if !refused {
			return err
		}
	}
	return fmt.Errorf("meta of %s: %d writes came in between", name, casRetries)
}

// metaSubject is the subject of bucket/name's meta messages (nats.go's).
func metaSubject(bucket, name string) string {
	return "$O." + bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
}

// readMeta reads the last meta message on subject: the object it
// describes, nil when there is none or it is deleted, and the subject's
// last sequence (0 when it has no message). It asks the stream's leader
// ($JS.API.STREAM.MSG.GET), not for a direct get, which nats.go's
// GetLastMsgForSubject makes on a stream that allows them (an object
// store's does) and which any replica may answer with what it has applied
// so far: a write is refused when its read was stale, but a read that
// decides to write nothing is not checked, and a release that read a
// follower's meta without its run's mark left the mark, and the object, for
// good.
func (c *Conn) readMeta(ctx context.Context, stream, subject string) (*jetstream.ObjectInfo, uint64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	req, err := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{subject})
	if err != nil {
		return nil, 0, err
	}
	reply, err := c.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", subject, err)
	}
	var resp struct {
		Message *struct {
			Sequence uint64 `json:"seq"`
			Data     []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, nil
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound:
		return nil, 0, fmt.Errorf("read %s: %w", subject, jetstream.ErrBucketNotFound)
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("read %s: %w", subject, resp.Error)
	case resp.Message == nil:
		return nil, 0, fmt.Errorf("read %s: an answer without a message", subject)
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(resp.Message.Data, &info); err != nil {
		return nil, 0, fmt.Errorf("meta message %d: %w", resp.Message.Sequence, err)
	}
	if info.Deleted {
		return nil, resp.Message.Sequence, nil
	}
	return &info, resp.Message.Sequence, nil
}

// writeMeta writes info as the meta message on subject if the subject's
// last sequence is still seq; refused says that another write came first.
func (c *Conn) writeMeta(ctx context.Context, subject string, info *jetstream.ObjectInfo, seq uint64) (refused bool, err error) {
	if beforeMetaWrite != nil {
		beforeMetaWrite(info.Name)
	}
	info.ModTime = time.Time{} // as nats.go writes it: the message's time is the object's
	data, err := json.Marshal(info)
	if err != nil {
		return false, err
	}
	msg := nats.NewMsg(subject)
	msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	msg.Data = data
	_, err = c.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(seq))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return true, nil
	}
	return false, err
}

// objectStream is the stream that holds bucket's objects.
func (c *Conn) objectStream(ctx context.Context, bucket string) (jetstream.Stream, error) {
	stream, err := c.js.Stream(ctx, objectStreamName(bucket))
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", bucket, err)
	}
	return stream, nil
}

// objectStreamName is the name of the stream that holds bucket's objects.
func objectStreamName(bucket string) string { return "OBJ_" + bucket }

// purgeChunks removes the chunks of an upload to bucket, whose objects
// stream holds.
func purgeChunks(ctx context.Context, stream jetstream.Stream, bucket, nuid string) error {
	return stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+bucket+".C."+nuid))
}
