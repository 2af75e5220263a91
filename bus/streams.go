package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
)

// Names of the streams, consumers and subjects.
const (
	StreamTasks     = "GAHPO_TASKS"
	StreamResults   = "GAHPO_RESULTS"
	ConsumerWorkers = "workers"
	BucketData      = "gahpo-data"
	BucketWeights   = "gahpo-weights"
	// BucketCheckpoints keeps the training state of genomes between the
	// rungs of a halving run.
	BucketCheckpoints = "gahpo-checkpoints"
	ServiceName       = "gahpo"
)

// DefaultAckWait is the lease of a task when none is configured.
const DefaultAckWait = 30 * time.Second

// TaskSubject is the subject of a genome's task; genome 0 is not used.
func TaskSubject(run string, genome int) string {
	return "gahpo.task." + run + "." + strconv.Itoa(genome)
}

// FinalSubject is the subject of a run's final training task.
func FinalSubject(run string) string { return "gahpo.task." + run + ".final" }

// ResultSubject is the subject of a genome's result.
func ResultSubject(run string, genome int) string {
	return "gahpo.result." + run + "." + strconv.Itoa(genome)
}

// FinalResultSubject is the subject of a run's final training result.
func FinalResultSubject(run string) string { return "gahpo.result." + run + ".final" }

// taskSubject is the subject of t: its genome's, the final training's, or
// a confirmation training's of its own (a genome has several at once, and
// each must be found in the queue by itself).
func taskSubject(t gahpo.Task) string {
	return subject("task", t.Kind, t.RunID, t.GenomeID, t.Replicate)
}

// resultSubject is the subject of r, as taskSubject is of its task.
func resultSubject(r gahpo.Result) string {
	return subject("result", r.Kind, r.RunID, r.GenomeID, r.Replicate)
}

// subject is gahpo.ROOT.RUN.GENOME, .final for a final training, with
// .rK below it for replicate K.
func subject(root, kind, run string, genome, replicate int) string {
	s := "gahpo." + root + "." + run + "."
	switch {
	case kind == gahpo.KindFinal:
		return s + "final"
	case replicate > 0:
		return s + strconv.Itoa(genome) + ".r" + strconv.Itoa(replicate)
	}
	return s + strconv.Itoa(genome)
}

// EventSubject is the subject of a run's best-effort events.
func EventSubject(run string) string { return "gahpo.event." + run }

// Default limits of the streams (see [StreamOptions]).
const (
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxBytes = 1 << 30
)

// StreamOptions are the limits and the replication of the streams, the
// workers' consumer and the object buckets that [Conn.EnsureStreams]
// creates or updates. The zero value means the documented defaults.
type StreamOptions struct {
	// Replicas is the number of copies of every stream and bucket on a
	// NATS cluster (1 to 5; 0 means 1). Use 3 on a 3-server cluster, so
	// that losing one server loses nothing.
	Replicas int
	// MaxAge removes tasks and results older than this (0 means: an
	// existing stream's own, [DefaultMaxAge], 30 days, for a new one; a
	// negative value means no limit). The tasks of an abandoned run leave
	// the queue at the latest after this; a coordinator that resumes
	// queues its lost tasks again. The streams are every run's: see
	// [Conn.EnsureStreams].
	MaxAge time.Duration
	// MaxBytes bounds each of the task and result streams (0 means: an
	// existing stream's own, [DefaultMaxBytes], 1 GiB, for a new one;
	// negative means no limit). A full stream refuses new messages rather
	// than dropping queued ones.
	MaxBytes int64
	// MaxMsgSize bounds one task or result message (0 means
	// gahpo.MaxMessageSize).
	MaxMsgSize int32
	// Buckets are object-store buckets to create with the streams, besides
	// [BucketData] and [BucketWeights] (for example a checkpoint bucket).
	Buckets []string
}

// ErrBadStreamOptions is returned by [StreamOptions.Validate] and
// [Conn.EnsureStreams] for limits out of range.
var ErrBadStreamOptions = errors.New("bus: bad stream options")

// Validate reports limits out of range.
func (o StreamOptions) Validate() error {
	switch {
	case o.Replicas < 0 || o.Replicas > 5:
		return fmt.Errorf("%w: replicas %d (1 to 5)", ErrBadStreamOptions, o.Replicas)
	case o.MaxMsgSize < 0:
		return fmt.Errorf("%w: max message size %d", ErrBadStreamOptions, o.MaxMsgSize)
	}
	return nil
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	switch {
	case o.MaxAge == 0:
		o.MaxAge = DefaultMaxAge
	case o.MaxAge < 0:
		o.MaxAge = 0 // unlimited for the server
	}
	switch {
	case o.MaxBytes == 0:
		o.MaxBytes = DefaultMaxBytes
	case o.MaxBytes < 0:
		o.MaxBytes = -1
	}
	if o.MaxMsgSize == 0 {
		o.MaxMsgSize = gahpo.MaxMessageSize
	}
	return o
}

// streamConfigs are the task and result streams under the options o
// (defaults applied).
func streamConfigs(o StreamOptions) []jetstream.StreamConfig {
	base := jetstream.StreamConfig{
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardNew,
		MaxAge:     o.MaxAge,
		MaxBytes:   o.MaxBytes,
		MaxMsgSize: o.MaxMsgSize,
		Replicas:   o.Replicas,
		Duplicates: 10 * time.Minute,
	}
	tasks, results := base, base
	tasks.Name, tasks.Description, tasks.Subjects = StreamTasks, "gahpo: genomes waiting for a worker", []string{"gahpo.task.>"}
	results.Name, results.Description, results.Subjects = StreamResults, "gahpo: results waiting for their coordinator", []string{"gahpo.result.>"}
	return []jetstream.StreamConfig{tasks, results}
}

// EnsureStreams creates or updates the task and result streams, the
// workers' consumer with the given lease, and the object buckets, with the
// connection's [Options.Streams]; the replicas of a stream or bucket are
// raised, never lowered. The streams and the consumer are shared by every
// run on the NATS server: an existing stream keeps the limits that the
// options leave at zero (a coordinator started without --stream-max-age
// does not reset another's), a limit given is applied and its change
// logged, and the lease is shortened only while no worker holds a task (a
// task in training would be handed to another worker). It needs the
// rights of the coordinator user (see deploy/nats).
func (c *Conn) EnsureStreams(ctx context.Context, ackWait time.Duration) error {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	if err := c.streams.Validate(); err != nil {
		return err
	}
	if err := c.inbox.refusal(); err != nil {
		return err
	}
	o := c.streams.withDefaults()
	for _, cfg := range streamConfigs(o) {
		// A coordinator started without --replicas (1) must not scale the
		// streams of a replicated cluster down to one server: the replicas
		// are raised, never lowered, as the buckets' are.
		s, err := c.js.Stream(ctx, cfg.Name)
		if err == nil {
			old := s.CachedInfo().Config
			cfg.Replicas = max(cfg.Replicas, old.Replicas)
			if err := c.keepLimits(ctx, &cfg, old); err != nil {
				return err
			}
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
		}
		if _, err := c.js.CreateOrUpdateStream(ctx, cfg); err != nil {
			if cfg.Replicas > 1 {
				return fmt.Errorf("bus: stream %s with %d replicas (a cluster of at least %d JetStream servers): %w", cfg.Name, cfg.Replicas, cfg.Replicas, err)
			}
			return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
		}
	}
	if err := c.ensureLease(ctx, ackWait); err != nil {
		return err
	}
	for _, b := range append([]string{BucketData, BucketWeights, BucketCheckpoints}, o.Buckets...) {
		if err := c.ensureBucket(ctx, b, o.Replicas); err != nil {
			return err
		}
	}
	return nil
}

// ensureBucket creates an object bucket with the given replicas, or raises
// the replicas of an existing one (never lowers them).
func (c *Conn) ensureBucket(ctx context.Context, bucket string, replicas int) error {
	obs, err := c.js.ObjectStore(ctx, bucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		_, err = c.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: jetstream.FileStorage, Replicas: replicas})
		if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return fmt.Errorf("bus: object store %s: %w", bucket, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	st, err := obs.Status(ctx)
	if err != nil {
		return fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	if st.Replicas() >= replicas {
		return nil
	}
	_, err = c.js.UpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: jetstream.FileStorage, Replicas: replicas})
	if err != nil {
		return fmt.Errorf("bus: object store %s: replicas %d: %w", bucket, replicas, err)
	}
	return nil
}

// IsStreamMissing tells whether err says that a stream or consumer of
// gahpo's is not on the server: its store was lost, emptied or replaced,
// or someone deleted it. [Conn.EnsureStreams] and [Conn.Results] make them
// again.
func IsStreamMissing(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrConsumerDeleted)
}

// PublishTask puts a task in the work queue. A task already published with
// the same message id within the duplicate window is not queued twice.
func (c *Conn) PublishTask(ctx context.Context, t gahpo.Task) error {
	data, err := gahpo.Encode(t)
	if err != nil {
		return err
	}
	subj := taskSubject(t)
	if _, err := c.js.Publish(ctx, subj, data, jetstream.WithMsgID(taskMsgID(t))); err != nil {
		return fmt.Errorf("bus: publish task %s: %w", subj, err)
	}
	return nil
}

// taskMsgID is the message id of a task's first publication: the same for
// every publication of the task (a genome has one task per rung), so that
// a task published twice, as by a retried publish, is queued once.
func taskMsgID(t gahpo.Task) string {
	id := taskSubject(t)
	if t.Token != "" {
		id += "." + t.Token
	}
	return id
}

// PublishLostTask queues again a task known to be lost: neither in the
// work queue nor answered by a result waiting (see [Conn.TaskWaiting]), as
// after `gahpo purge` or the loss of the NATS store. [Conn.PublishTask]
// would reuse the lost message's id, and the stream would drop the task as
// a duplicate for its whole duplicate window. Its id here is the task's id
// with the stream's last sequence, which every message the stream took
// since the loss (this one too) changes: a task lost again is queued
// again. The caller checks that the task is lost; a first publication
// goes through PublishTask, whose id deduplicates a retried publish.
func (c *Conn) PublishLostTask(ctx context.Context, t gahpo.Task) error {
	data, err := gahpo.Encode(t)
	if err != nil {
		return err
	}
	subj := taskSubject(t)
	s, err := c.js.Stream(ctx, StreamTasks)
	if err != nil {
		return fmt.Errorf("bus: publish task %s: stream %s: %w", subj, StreamTasks, err)
	}
	id := taskMsgID(t) + ".lost." + strconv.FormatUint(s.CachedInfo().State.LastSeq, 10)
	if _, err := c.js.Publish(ctx, subj, data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("bus: publish task %s: %w", subj, err)
	}
	return nil
}

// PublishTasks puts tasks in the work queue in their order, without a round
// trip per task: all are sent, then every acknowledgement is awaited. The
// first error is returned (a task may then be queued or not: publishing it
// again is harmless, its message id deduplicates it).
func (c *Conn) PublishTasks(ctx context.Context, tasks []gahpo.Task) error {
	if len(tasks) == 1 {
		return c.PublishTask(ctx, tasks[0])
	}
	futures := make([]jetstream.PubAckFuture, 0, len(tasks))
	for _, t := range tasks {
		data, err := gahpo.Encode(t)
		if err != nil {
			return err
		}
		subj := taskSubject(t)
		f, err := c.js.PublishAsync(subj, data, jetstream.WithMsgID(taskMsgID(t)))
		if err != nil {
			return fmt.Errorf("bus: publish task %s: %w", subj, err)
		}
		futures = append(futures, f)
	}
	var first error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if first == nil {
				first = fmt.Errorf("bus: publish task %s: %w", f.Msg().Subject, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("bus: publish tasks: %w", ctx.Err())
		}
	}
	return first
}

// TaskQueued tells whether the task of a genome (or the final task, with
// genome 0) is still in the work queue, waiting or held by a worker.
func (c *Conn) TaskQueued(ctx context.Context, run string, genome int) (bool, error) {
	subj := TaskSubject(run, genome)
	if genome == 0 {
		subj = FinalSubject(run)
	}
	return c.inStream(ctx, StreamTasks, subj)
}

// ResultWaiting tells whether a result of a genome (or of the final
// training, with genome 0) waits in the result stream for its coordinator.
func (c *Conn) ResultWaiting(ctx context.Context, run string, genome int) (bool, error) {
	subj := ResultSubject(run, genome)
	if genome == 0 {
		subj = FinalResultSubject(run)
	}
	return c.inStream(ctx, StreamResults, subj)
}

// TaskWaiting tells whether task t is still in the work queue, waiting or
// held by a worker, or its result waits in the result stream: t's own
// subject, which a confirmation training does not share with its genome's
// other tasks.
func (c *Conn) TaskWaiting(ctx context.Context, t gahpo.Task) (bool, error) {
	if ok, err := c.inStream(ctx, StreamTasks, taskSubject(t)); ok || err != nil {
		return ok, err
	}
	return c.inStream(ctx, StreamResults, subject("result", t.Kind, t.RunID, t.GenomeID, t.Replicate))
}

func (c *Conn) inStream(ctx context.Context, stream, subj string) (bool, error) {
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return false, fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	_, err = s.GetLastMsgForSubject(ctx, subj)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("bus: look up %s: %w", subj, err)
	}
	return true, nil
}

// PurgeTasks removes every queued task of a run (when a run ends, or by
// `gahpo purge` for an abandoned one). Tasks held by a worker go too: the
// worker's acknowledgement then finds nothing, and its result, if any, is
// removed by [Conn.PurgeResults] or left to the stream's MaxAge.
func (c *Conn) PurgeTasks(ctx context.Context, run string) error {
	if err := checkRun(run); err != nil {
		return err
	}
	return c.purge(ctx, StreamTasks, "gahpo.task."+run+".>")
}

// PurgeResults removes every result of a run still waiting in the result
// stream, and the run's result consumer.
func (c *Conn) PurgeResults(ctx context.Context, run string) error {
	if err := checkRun(run); err != nil {
		return err
	}
	if err := c.purge(ctx, StreamResults, "gahpo.result."+run+".>"); err != nil {
		return err
	}
	return c.DeleteResults(ctx, run)
}

// Pending counts the queued tasks and the waiting results of a run.
func (c *Conn) Pending(ctx context.Context, run string) (tasks, results uint64, err error) {
	if err := checkRun(run); err != nil {
		return 0, 0, err
	}
	count := func(stream, filter string) (uint64, error) {
		s, err := c.js.Stream(ctx, stream)
		if err != nil {
			return 0, fmt.Errorf("bus: stream %s: %w", stream, err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return 0, fmt.Errorf("bus: stream %s: %w", stream, err)
		}
		var n uint64
		for _, v := range info.State.Subjects {
			n += v
		}
		return n, nil
	}
	if tasks, err = count(StreamTasks, "gahpo.task."+run+".>"); err != nil {
		return 0, 0, err
	}
	results, err = count(StreamResults, "gahpo.result."+run+".>")
	return tasks, results, err
}

// ErrBadRun is returned for a run id that cannot be part of a subject.
var ErrBadRun = errors.New("bus: bad run id")

func checkRun(run string) error {
	if run == "" || strings.ContainsAny(run, ".*> \t\r\n") {
		return fmt.Errorf("%w %q", ErrBadRun, run)
	}
	return nil
}

func (c *Conn) purge(ctx context.Context, stream, subject string) error {
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", stream, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("bus: purge %s: %w", subject, err)
	}
	return nil
}

// PublishResult sends a result to the run's coordinator, waiting for the
// stream to store it. task is the stream sequence of the task's message
// that r answers (Delivery.Seq; 0 when unknown).
func (c *Conn) PublishResult(ctx context.Context, r gahpo.Result, task uint64) error {
	data, err := gahpo.Encode(r)
	if err != nil {
		return err
	}
	subj := resultSubject(r)
	msgID := resultMsgID(r, task)
	if _, err := c.js.Publish(ctx, subj, data, jetstream.WithMsgID(msgID)); err != nil {
		return closed(c.nc, c.inbox.explain(fmt.Errorf("bus: publish result %s: %w", subj, err)))
	}
	return nil
}

// resultMsgID is the message id of result r of the task message with
// stream sequence task: the same for every publication of one delivery's
// result (a publish retried after a lost acknowledgement is stored once),
// another for each delivery and each message of the task. The token and
// the attempt alone would not do: a task queued again after `gahpo purge`
// or a lost task (PublishLostTask, a new message) is delivered as attempt 1
// again, and its result would be dropped as a duplicate of the purged one
// for the stream's whole duplicate window, the task trained again and
// again meanwhile. Sequences only grow in a stream (a purge keeps them),
// and one made again, its sequences anew, has lost its duplicate window.
func resultMsgID(r gahpo.Result, task uint64) string {
	return resultSubject(r) + "." + r.Token + "." + strconv.Itoa(r.Attempt) + ".t" + strconv.FormatUint(task, 10)
}

// PublishEvent sends a best-effort event about a run.
func (c *Conn) PublishEvent(e gahpo.Started) error {
	data, err := gahpo.Encode(e)
	if err != nil {
		return err
	}
	return c.nc.Publish(EventSubject(e.RunID), data)
}

// SubscribeEvents calls fn for each event of a run until the returned stop
// function is called.
func (c *Conn) SubscribeEvents(run string, fn func(data []byte)) (stop func(), err error) {
	sub, err := c.nc.Subscribe(EventSubject(run), func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe events: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
