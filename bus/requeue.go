package bus

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
)

// headerPrior carries, on a task put back by Requeue, the deliveries of
// the task before the one handed back; Delivery.Attempt adds them, so
// that neither a refusal nor a worker's stop counts as an attempt.
const headerPrior = "Gahpo-Prior-Attempts"

// priorAttempts reads headerPrior (0 when absent or malformed).
func priorAttempts(h nats.Header) int {
	n, err := strconv.Atoi(h.Get(headerPrior))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Requeue hands a task this worker will not train, or stops training as
// it is being stopped, back to the queue for the other workers, without
// counting the delivery as an attempt: it puts a copy at the back of the
// stream, carrying the attempts made before this delivery, then
// acknowledges this one. It needs the right to publish tasks, which the
// worker user of deploy/nats/auth.conf lacks: a worker hands back through
// its coordinator first (PublishHandBack, RequeueTask). A Nak would count
// every refusal towards the task's MaxAttempts, so that a worker without
// the task's problem could make it fail on the workers that have it, and
// each Ctrl-C of a worker training it would use one of its attempts. If the
// worker dies between the two steps, the original comes back after its
// lease and the genome may be trained twice (results are idempotent by
// genome id).
func (c *Conn) Requeue(ctx context.Context, d *Delivery) error {
	if d.Seq == 0 {
		return fmt.Errorf("bus: requeue %s: the delivery has no stream sequence", d.Subject)
	}
	m := &nats.Msg{Subject: d.Subject, Data: d.Data, Header: nats.Header{}}
	m.Header.Set(headerPrior, strconv.Itoa(d.Attempt-1))
	// A message id of its own, unique by the original's sequence: the
	// task's id would be taken for a duplicate and dropped.
	id := d.Subject + ".requeued." + strconv.FormatUint(d.Seq, 10)
	if _, err := c.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("bus: requeue %s: %w", d.Subject, err)
	}
	if err := d.Ack(ctx); err != nil {
		return fmt.Errorf("bus: requeue %s: %w", d.Subject, err)
	}
	return nil
}

// PublishHandBack sends the coordinator of d's task a result of kind
// gahpo.KindHandBack (r), on the task's result subject, so that it queues
// the task again with RequeueTask, then acknowledges d: the way a worker
// without the right to publish tasks hands one back uncounted. Its message
// id is its own (the task's real result, with the same token and attempt
// number, must not be taken for a duplicate of it).
func (c *Conn) PublishHandBack(ctx context.Context, d *Delivery, r gahpo.Result) error {
	data, err := gahpo.Encode(r)
	if err != nil {
		return err
	}
	subj := subject("result", r.HandBack, r.RunID, r.GenomeID, r.Replicate)
	id := subj + ".handback." + strconv.FormatUint(d.Seq, 10)
	if _, err := c.js.Publish(ctx, subj, data, jetstream.WithMsgID(id)); err != nil {
		return closed(c.nc, c.inbox.explain(fmt.Errorf("bus: hand back %s: %w", d.Subject, err)))
	}
	if err := d.Ack(ctx); err != nil {
		return fmt.Errorf("bus: hand back %s: %w", d.Subject, err)
	}
	return nil
}

// RequeueTask queues t again for a worker that handed it back (see
// PublishHandBack): a copy carrying prior, the deliveries that count, with
// a message id unique by seq, the hand-back's sequence in the result stream.
func (c *Conn) RequeueTask(ctx context.Context, t gahpo.Task, prior int, seq uint64) error {
	data, err := gahpo.Encode(t)
	if err != nil {
		return err
	}
	m := &nats.Msg{Subject: taskSubject(t), Data: data, Header: nats.Header{}}
	m.Header.Set(headerPrior, strconv.Itoa(max(prior, 0)))
	id := taskMsgID(t) + ".handback." + strconv.FormatUint(seq, 10)
	if _, err := c.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("bus: requeue %s: %w", m.Subject, err)
	}
	return nil
}
