package bus

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// headerPrior carries, on a task put back by Requeue, the deliveries of
// the task before the one handed back; Delivery.Attempt adds them, so
// that neither a refusal nor a worker's stop counts as an attempt.
const headerPrior = "Gahpo-Prior-Attempts"

// priorAttempts reads headerPrior (0 when absent or malformed).
func priorAttempts(m jetstream.Msg) int {
	n, err := strconv.Atoi(m.Headers().Get(headerPrior))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Requeue hands a task this worker will not train, or stops training as
// it is being stopped, back to the queue for the other workers, without
// counting the delivery as an attempt: it puts
// a copy at the back of the stream, carrying the attempts made before this
// delivery, then acknowledges this one. A Nak would count every refusal
// towards the task's MaxAttempts, so that a worker without the task's
// problem could make it fail on the workers that have it, and each Ctrl-C
// of a worker training it would use one of its attempts. If the worker
// dies between the two steps, the original comes back after its lease and
// the genome may be trained twice (results are idempotent by genome id).
func (c *Conn) Requeue(ctx context.Context, d *Delivery) error {
	md, err := d.msg.Metadata()
	if err != nil {
		return fmt.Errorf("bus: requeue %s: %w", d.Subject, err)
	}
	m := &nats.Msg{Subject: d.Subject, Data: d.Data, Header: nats.Header{}}
	m.Header.Set(headerPrior, strconv.Itoa(d.Attempt-1))
	// A message id of its own, unique by the original's sequence: the
	// task's id would be taken for a duplicate and dropped.
	id := d.Subject + ".requeued." + strconv.FormatUint(md.Sequence.Stream, 10)
	if _, err := c.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("bus: requeue %s: %w", d.Subject, err)
	}
	if err := d.Ack(ctx); err != nil {
		return fmt.Errorf("bus: requeue %s: %w", d.Subject, err)
	}
	return nil
}
