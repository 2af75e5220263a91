package bus

import (
	"context"
	"encoding/base64"
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
// Marks and the deletion are compare-and-set writes of the object's meta
// message (the meta subject's last sequence is expected), so a run that
// marks an object while another run's release deletes it either lands
// first (the object stays) or finds the object gone and puts it again
// (PutRunData). An object without any mark (put by a coordinator older
// than the marks) is never deleted.

// runDataPrefix begins the metadata keys that mark a data object as used.
const runDataPrefix = "gahpo-run-"

// runDataKey is the metadata key by which run marks a data object.
func runDataKey(run string) string { return runDataPrefix + run }

// errDataGone says that the object to mark is not there (any more).
var errDataGone = errors.New("bus: data object gone")

// casRetries bounds the compare-and-set attempts on one meta message, and
// the puts of PutRunData that found their object deleted under them.
const casRetries = 20

// PutRunData is PutData, the object then marked as used by run, so that
// no other run's release deletes it while run uses it (ReleaseData). An
// object deleted between the put and the mark is put again.
func (c *Conn) PutRunData(ctx context.Context, path, run string) (gahpo.DataRef, error) {
	name, data, err := readData(path)
	if err != nil {
		return gahpo.DataRef{}, err
	}
	for range casRetries {
		ref, err := c.PutBytes(ctx, BucketData, name, data)
		if err != nil {
			return gahpo.DataRef{}, err
		}
		err = c.updateMeta(ctx, BucketData, name, func(info *jetstream.ObjectInfo) (bool, error) {
			if info.Digest != ref.Digest { // replaced by a coordinator older than DataObjectName
				return false, errDataGone
			}
			if info.Metadata[runDataKey(run)] != "" {
				return false, nil
			}
			info.Metadata = maps.Clone(info.Metadata)
			if info.Metadata == nil {
				info.Metadata = map[string]string{}
			}
			info.Metadata[runDataKey(run)] = time.Now().UTC().Format(time.RFC3339)
			return true, nil
		})
		if errors.Is(err, errDataGone) {
			continue
		}
		if err != nil {
			return gahpo.DataRef{}, fmt.Errorf("bus: mark %s/%s as run %s's: %w", BucketData, name, run, err)
		}
		return ref, nil
	}
	return gahpo.DataRef{}, fmt.Errorf("bus: put %s/%s for run %s: deleted under it %d times", BucketData, name, run, casRetries)
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
	deleted, first := 0, error(nil)
	for _, info := range infos {
		if info.Metadata[runDataKey(run)] == "" {
			continue
		}
		gone, err := c.release(ctx, info.Name, run)
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
func (c *Conn) release(ctx context.Context, name, run string) (bool, error) {
	var gone bool
	var nuid string
	err := c.updateMeta(ctx, BucketData, name, func(info *jetstream.ObjectInfo) (bool, error) {
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
	return true, c.purgeChunks(ctx, BucketData, nuid)
}

// beforeMetaWrite, when not nil, runs between updateMeta's read and its
// write: the tests' way to make another write come in between.
var beforeMetaWrite func(name string)

// updateMeta reads the meta message of bucket/name, lets change edit it
// (it returns whether it did), and writes the edit back on the condition
// that no other write came in between, trying again with what came when
// one did. A missing or deleted object is errDataGone.
func (c *Conn) updateMeta(ctx context.Context, bucket, name string, change func(*jetstream.ObjectInfo) (bool, error)) error {
	stream, err := c.js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return fmt.Errorf("object store %s: %w", bucket, err)
	}
	subject := "$O." + bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
	for range casRetries {
		m, err := stream.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return errDataGone
		}
		if err != nil {
			return err
		}
		var info jetstream.ObjectInfo
		if err := json.Unmarshal(m.Data, &info); err != nil {
			return fmt.Errorf("meta of %s: %w", name, err)
		}
		if info.Deleted {
			return errDataGone
		}
		changed, err := change(&info)
		if err != nil || !changed {
			return err
		}
		if beforeMetaWrite != nil {
			beforeMetaWrite(name)
		}
		info.ModTime = time.Time{} // as nats.go writes it: the message's time is the object's
		data, err := json.Marshal(&info)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(subject)
		msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
		msg.Data = data
		_, err = c.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(m.Sequence))
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			continue // another write came first: edit what it wrote
		}
		return err
	}
	return fmt.Errorf("meta of %s: %d writes came in between", name, casRetries)
}

// purgeChunks removes the chunks of a deleted object's upload.
func (c *Conn) purgeChunks(ctx context.Context, bucket, nuid string) error {
	stream, err := c.js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return fmt.Errorf("object store %s: %w", bucket, err)
	}
	return stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+bucket+".C."+nuid))
}
