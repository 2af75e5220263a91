package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	ServiceName     = "gahpo"
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

// EventSubject is the subject of a run's best-effort events.
func EventSubject(run string) string { return "gahpo.event." + run }

// EnsureStreams creates or updates the task and result streams, and the
// workers' consumer with the given lease.
func (c *Conn) EnsureStreams(ctx context.Context, ackWait time.Duration) error {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	for _, cfg := range []jetstream.StreamConfig{
		{
			Name:        StreamTasks,
			Description: "gahpo: genomes waiting for a worker",
			Subjects:    []string{"gahpo.task.>"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			MaxMsgSize:  gahpo.MaxMessageSize,
			Duplicates:  10 * time.Minute,
		},
		{
			Name:        StreamResults,
			Description: "gahpo: results waiting for their coordinator",
			Subjects:    []string{"gahpo.result.>"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			MaxMsgSize:  gahpo.MaxMessageSize,
			Duplicates:  10 * time.Minute,
		},
	} {
		if _, err := c.js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
		}
	}
	_, err := c.js.CreateOrUpdateConsumer(ctx, StreamTasks, jetstream.ConsumerConfig{
		Durable:       ConsumerWorkers,
		Description:   "gahpo workers share this consumer",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1, // the worker gives up after the task's MaxAttempts
		MaxAckPending: -1,
	})
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)
	}
	return nil
}

// PublishTask puts a task in the work queue. A task already published with
// the same message id within the duplicate window is not queued twice.
func (c *Conn) PublishTask(ctx context.Context, t gahpo.Task) error {
	data, err := gahpo.Encode(t)
	if err != nil {
		return err
	}
	subj := TaskSubject(t.RunID, t.GenomeID)
	if t.Kind == gahpo.KindFinal {
		subj = FinalSubject(t.RunID)
	}
	msgID := subj
	if _, err := c.js.Publish(ctx, subj, data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("bus: publish task %s: %w", subj, err)
	}
	return nil
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

// PurgeTasks removes every queued task of a run (used when a run ends).
func (c *Conn) PurgeTasks(ctx context.Context, run string) error {
	s, err := c.js.Stream(ctx, StreamTasks)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", StreamTasks, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject("gahpo.task."+run+".>")); err != nil {
		return fmt.Errorf("bus: purge tasks of %s: %w", run, err)
	}
	return nil
}

// PublishResult sends a result to the run's coordinator, waiting for the
// stream to store it.
func (c *Conn) PublishResult(ctx context.Context, r gahpo.Result) error {
	data, err := gahpo.Encode(r)
	if err != nil {
		return err
	}
	subj := ResultSubject(r.RunID, r.GenomeID)
	if r.Kind == gahpo.KindFinal {
		subj = FinalResultSubject(r.RunID)
	}
	msgID := subj + "." + strconv.Itoa(r.Attempt)
	if _, err := c.js.Publish(ctx, subj, data, jetstream.WithMsgID(msgID)); err != nil {
		return closed(c.nc, fmt.Errorf("bus: publish result %s: %w", subj, err))
	}
	return nil
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
