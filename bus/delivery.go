package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoConsumer is returned by Tasks when the workers' consumer does not
// exist yet: no coordinator has set the streams up.
var ErrNoConsumer = errors.New("bus: no task queue yet (start a coordinator)")

// acker is what a delivery's message is told once handled: a
// jetstream.Msg, or a slot's *nats.Msg (coreMsg).
type acker interface {
	Ack() error
	DoubleAck(ctx context.Context) error
	InProgress() error
	TermWithReason(reason string) error
	NakWithDelay(delay time.Duration) error
}

// Delivery is one message pulled from a stream.
type Delivery struct {
	msg acker
	// Data is the message body.
	Data []byte
	// Subject is the subject the message was published on.
	Subject string
	// Attempt counts deliveries of this task, from 1: of this message,
	// plus those of the message it was requeued from (see Conn.Requeue).
	Attempt int
	// Seq is the message's sequence in its stream (0 when unknown).
	Seq uint64
}

func newDelivery(m jetstream.Msg) *Delivery {
	d := &Delivery{msg: m, Data: m.Data(), Subject: m.Subject(), Attempt: 1}
	if md, err := m.Metadata(); err == nil {
		d.Attempt, d.Seq = int(md.NumDelivered), md.Sequence.Stream
	}
	d.Attempt += priorAttempts(m.Headers())
	return d
}

// coreMsg is a message pulled through a slot's own subscription
// (TaskSlot), told as jetstream.Msg is.
type coreMsg struct{ m *nats.Msg }

func (c coreMsg) Ack() error { return c.m.Ack() }

func (c coreMsg) DoubleAck(ctx context.Context) error { return c.m.AckSync(nats.Context(ctx)) }

func (c coreMsg) InProgress() error { return c.m.InProgress() }

func (c coreMsg) NakWithDelay(delay time.Duration) error { return c.m.NakWithDelay(delay) }

// TermWithReason sends the term with its reason, which the legacy
// nats.Msg.Term does not carry (jetstream.Msg.TermWithReason's body).
func (c coreMsg) TermWithReason(reason string) error {
	return c.m.Respond([]byte("+TERM " + reason))
}

func newCoreDelivery(m *nats.Msg) *Delivery {
	d := &Delivery{msg: coreMsg{m}, Data: m.Data, Subject: m.Subject, Attempt: 1}
	if md, err := m.Metadata(); err == nil {
		d.Attempt, d.Seq = int(md.NumDelivered), md.Sequence.Stream
	}
	d.Attempt += priorAttempts(m.Header)
	return d
}

// Ack acknowledges the message and waits for the server to confirm.
func (d *Delivery) Ack(ctx context.Context) error {
	if err := d.msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("bus: ack %s: %w", d.Subject, err)
	}
	return nil
}

// AckNoWait acknowledges the message without waiting for the server: for
// messages whose redelivery is harmless (the coordinator drops a result it
// already recorded), so that a batch costs no round trip per message.
func (d *Delivery) AckNoWait() error {
	if err := d.msg.Ack(); err != nil {
		return fmt.Errorf("bus: ack %s: %w", d.Subject, err)
	}
	return nil
}

// InProgress extends the lease on the message.
func (d *Delivery) InProgress() error { return d.msg.InProgress() }

// Term tells the server never to deliver the message again.
func (d *Delivery) Term(reason string) error { return d.msg.TermWithReason(reason) }

// Nak asks for redelivery after delay.
func (d *Delivery) Nak(delay time.Duration) error { return d.msg.NakWithDelay(delay) }

// TaskQueue is the workers' shared consumer.
type TaskQueue struct {
	cons jetstream.Consumer
	nc   *nats.Conn
}

// Tasks binds to the workers' consumer; ErrNoConsumer when absent.
func (c *Conn) Tasks(ctx context.Context) (*TaskQueue, error) {
	if c.nc.IsClosed() {
		return nil, closed(c.nc, nats.ErrConnectionClosed)
	}
	if err := c.inbox.refusal(); err != nil {
		return nil, err // the consumer's lookup would time out
	}
	cons, err := c.js.Consumer(ctx, StreamTasks, ConsumerWorkers)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoConsumer
	}
	if err != nil {
		return nil, closed(c.nc, c.inbox.explain(fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)))
	}
	return &TaskQueue{cons: cons, nc: c.nc}, nil
}

// TasksHeld returns how many tasks the workers' consumer has delivered
// and not yet seen acknowledged (workers hold them, alive or dead: a dead
// worker's come back after the lease), and that lease; 0 when there is no
// consumer yet.
func (c *Conn) TasksHeld(ctx context.Context) (int, time.Duration, error) {
	cons, err := c.js.Consumer(ctx, StreamTasks, ConsumerWorkers)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)
	}
	return info.NumAckPending, info.Config.AckWait, nil
}

// AckWait returns the lease the queue's consumer grants now: a resumed
// run's coordinator may have changed it (--ack-wait) since the queue was
// bound, and a worker renewing at a third of the old lease would lose its
// task to the server mid-training. The lease last read serves when the
// server cannot be asked.
func (q *TaskQueue) AckWait(ctx context.Context) time.Duration {
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if info, err := q.cons.Info(ictx); err == nil && info.Config.AckWait > 0 {
		return info.Config.AckWait
	}
	if info := q.cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		return info.Config.AckWait
	}
	return DefaultAckWait
}

// Next pulls one task, waiting at most wait; it returns nil and no error
// when none came. Pulling one at a time keeps a busy worker from holding
// tasks that an idle one could run. A worker's slots pull through a
// TaskSlot each instead, which keeps its subscription.
func (q *TaskQueue) Next(ctx context.Context, wait time.Duration) (*Delivery, error) {
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := q.cons.Next(jetstream.FetchContext(fctx))
	switch {
	case err == nil:
		return newDelivery(m), nil
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return nil, ctx.Err() // nil unless the caller's context ended
	default:
		return nil, closed(q.nc, fmt.Errorf("bus: next task: %w", err))
	}
}

// TaskSlot takes tasks from the workers' consumer one at a time for one
// slot of a worker, through a subscription of its own kept from task to
// task. TaskQueue.Next makes a subscription for each pull and drops it
// after: a subscribe and an unsubscribe a task, each of which changes the
// server's routing of every message (a twentieth of the cluster path's
// CPU).
type TaskSlot struct {
	sub *nats.Subscription
	nc  *nats.Conn
}

// Slot opens a slot on the queue; ErrNoConsumer when the consumer is gone.
// Close it when done.
func (q *TaskQueue) Slot() (*TaskSlot, error) {
	js, err := q.nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("bus: task slot: %w", err)
	}
	sub, err := js.PullSubscribe("", ConsumerWorkers, nats.Bind(StreamTasks, ConsumerWorkers))
	if errors.Is(err, nats.ErrConsumerNotFound) || errors.Is(err, nats.ErrStreamNotFound) {
		return nil, ErrNoConsumer
	}
	if err != nil {
		return nil, closed(q.nc, fmt.Errorf("bus: task slot: %w", err))
	}
	return &TaskSlot{sub: sub, nc: q.nc}, nil
}

// Next pulls one task, waiting at most wait; it returns nil and no error
// when none came, or the connection went down meanwhile.
func (s *TaskSlot) Next(ctx context.Context, wait time.Duration) (*Delivery, error) {
	if !s.nc.IsConnected() {
		// A pull sent into the client's buffer while it reconnects would
		// reach the server later, while the slot trains another task:
		// the task it brings would wait, its lease running.
		if err := sleepCtx(ctx, min(wait, 100*time.Millisecond)); err != nil {
			return nil, closed(s.nc, err)
		}
		if s.nc.IsClosed() {
			return nil, closed(s.nc, nats.ErrConnectionClosed)
		}
		return nil, nil
	}
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	msgs, err := s.sub.Fetch(1, nats.Context(fctx))
	switch {
	case err == nil && len(msgs) > 0:
		return newCoreDelivery(msgs[0]), nil
	case err == nil, errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, nats.ErrFetchDisconnected):
		return nil, ctx.Err() // nil unless the caller's context ended
	default:
		return nil, closed(s.nc, fmt.Errorf("bus: next task: %w", err))
	}
}

// Close ends the slot's subscription.
func (s *TaskSlot) Close() { _ = s.sub.Unsubscribe() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ResultFeed delivers a run's results to its coordinator.
type ResultFeed struct {
	it jetstream.MessagesContext
}

func resultsConsumer(run string) string { return "coord-" + run }

// Results opens the durable consumer of a run's results.
func (c *Conn) Results(ctx context.Context, run string, ackWait time.Duration) (*ResultFeed, error) {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	// A coordinator that stopped (or was killed) with results delivered but
	// not acknowledged would get them back only after their ack wait, behind
	// newer ones. Start the consumer afresh instead: it delivers every
	// result still in the stream, in the order they came.
	if err := c.js.DeleteConsumer(ctx, StreamResults, resultsConsumer(run)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("bus: reset results consumer of %s: %w", run, err)
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, StreamResults, jetstream.ConsumerConfig{
		Durable:       resultsConsumer(run),
		Description:   "gahpo coordinator of run " + run,
		FilterSubject: "gahpo.result." + run + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: results consumer of %s: %w", run, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return nil, fmt.Errorf("bus: results of %s: %w", run, err)
	}
	return &ResultFeed{it: it}, nil
}

// Next blocks until the next result; after Stop it returns an error.
func (f *ResultFeed) Next() (*Delivery, error) {
	m, err := f.it.Next()
	if err != nil {
		return nil, fmt.Errorf("bus: next result: %w", err)
	}
	return newDelivery(m), nil
}

// Stop ends the feed; a blocked Next returns.
func (f *ResultFeed) Stop() { f.it.Stop() }

// DeleteResults removes a finished run's results consumer.
func (c *Conn) DeleteResults(ctx context.Context, run string) error {
	err := c.js.DeleteConsumer(ctx, StreamResults, resultsConsumer(run))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: delete results consumer of %s: %w", run, err)
	}
	return nil
}
