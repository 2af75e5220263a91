package bus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
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

// runObject is what follows "<run>-" in the name of a run's object: a
// checkpoint's <genome>-e<epochs>-<nonce> (worker.CheckpointName), the
// weights' <genome>-weights-<nonce> or final-<genome>-<nonce>; without the
// nonce as they were named before it.
const runObject = `(?:[0-9]+-(?:e[0-9]+|weights)|final-[0-9]+)(?:-[^-]+)?`

var (
	runObjectRest = regexp.MustCompile(`^` + runObject + `$`)
	runObjectName = regexp.MustCompile(`^(.+?)-` + runObject + `$`) // the run: the shortest id the rest fits
)

// isRunObject tells whether the object name is one of run's. Its id and a
// dash do not tell alone: the objects of run 20261201-101010-abcdef begin
// with "20261201-101010-" too, and a purge of that id cut short must not
// remove them.
func isRunObject(name, run string) bool {
	rest, ok := strings.CutPrefix(name, run+"-")
	return ok && runObjectRest.MatchString(rest)
}

// objectRun returns the run whose object name is, if it is a run's.
func objectRun(name string) (string, bool) {
	m := runObjectName.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// DeleteRunObjects deletes the objects of run from bucket (isRunObject)
// and returns how many it deleted; it goes on past a failed delete and
// returns the first error.
func (c *Conn) DeleteRunObjects(ctx context.Context, bucket, run string) (int, error) {
	names, err := c.ListObjects(ctx, bucket)
	if err != nil {
		return 0, err
	}
	n, first := 0, error(nil)
	for _, name := range names {
		if !isRunObject(name, run) {
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

// Runs returns the runs that the server holds anything of: queued tasks,
// waiting results, a coordinator's results consumer, checkpoints and
// weights in the object store. Streams and buckets not made yet hold none.
func (c *Conn) Runs(ctx context.Context) ([]string, error) {
	var runs []string
	for _, stream := range []string{StreamTasks, StreamResults} {
		r, err := c.runsIn(ctx, stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		runs = append(runs, r...)
	}
	s, err := c.js.Stream(ctx, StreamResults)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, fmt.Errorf("bus: stream %s: %w", StreamResults, err)
	default:
		names := s.ConsumerNames(ctx)
		for name := range names.Name() {
			if run, ok := strings.CutPrefix(name, resultsConsumer("")); ok {
				runs = append(runs, run)
			}
		}
		if err := names.Err(); err != nil {
			return nil, fmt.Errorf("bus: consumers of %s: %w", StreamResults, err)
		}
	}
	for _, bucket := range []string{BucketCheckpoints, BucketWeights} {
		names, err := c.ListObjects(ctx, bucket)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if run, ok := objectRun(name); ok {
				runs = append(runs, run)
			}
		}
	}
	slices.Sort(runs)
	return slices.Compact(runs), nil
}

// runsIn returns the runs with messages in stream, sorted.
func (c *Conn) runsIn(ctx context.Context, stream string) ([]string, error) {
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("gahpo.>"))
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	var runs []string
	for subj := range info.State.Subjects {
		// gahpo.task.RUN.GENOME, gahpo.result.RUN.final, ...
		if parts := strings.SplitN(subj, ".", 4); len(parts) == 4 && !slices.Contains(runs, parts[2]) {
			runs = append(runs, parts[2])
		}
	}
	slices.Sort(runs)
	return runs, nil
}
