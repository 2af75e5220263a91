package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ListObjects returns the names of the objects in a bucket (none when the
// bucket does not exist).
func (c *Conn) ListObjects(ctx context.Context, bucket string) ([]string, error) {
	obs, err := c.js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: list %s: %w", bucket, err)
	}
	var names []string
	for _, info := range infos {
		if !info.Deleted {
			names = append(names, info.Name)
		}
	}
	return names, nil
}

// DeleteRunObjects deletes the objects of run from bucket (their names
// begin with the run's id and a dash, as CheckpointName and the weights'
// names do) and returns how many it deleted; it goes on past a failed
// delete and returns the first error.
func (c *Conn) DeleteRunObjects(ctx context.Context, bucket, run string) (int, error) {
	names, err := c.ListObjects(ctx, bucket)
	if err != nil {
		return 0, err
	}
	n, first := 0, error(nil)
	for _, name := range names {
		if !strings.HasPrefix(name, run+"-") {
			continue
		}
		if err := c.DeleteObject(ctx, bucket, name); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}

// SweepChunks removes from bucket the chunks that no object holds: those
// of uploads that failed half-way (a worker may not purge what it wrote, so
// a failed put leaves its chunks behind) and whose last chunk is older than
// olderThan, so that an upload under way, whose object is written only
// after its chunks, is left alone. It returns how many uploads' chunks it
// removed, and how many chunks (of 128 KiB at most) they were.
func (c *Conn) SweepChunks(ctx context.Context, bucket string, olderThan time.Duration) (uploads, chunks int, err error) {
	obs, err := c.js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	held := map[string]bool{}
	infos, err := obs.List(ctx, jetstream.ListObjectsShowDeleted())
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, 0, fmt.Errorf("bus: list %s: %w", bucket, err)
	}
	for _, info := range infos {
		if !info.Deleted {
			held[info.NUID] = true
		}
	}
	s, err := c.js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return 0, 0, fmt.Errorf("bus: stream of %s: %w", bucket, err)
	}
	prefix := "$O." + bucket + ".C."
	si, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return 0, 0, fmt.Errorf("bus: chunks of %s: %w", bucket, err)
	}
	for subj, count := range si.State.Subjects {
		if held[strings.TrimPrefix(subj, prefix)] {
			continue
		}
		last, err := s.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return uploads, chunks, fmt.Errorf("bus: chunks of %s: %w", bucket, err)
		}
		if time.Since(last.Time) < olderThan {
			continue
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return uploads, chunks, fmt.Errorf("bus: sweep chunks %s: %w", subj, err)
		}
		uploads++
		chunks += int(count)
	}
	return uploads, chunks, nil
}
