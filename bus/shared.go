package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keepLimits settles the limits of cfg, an update of the existing stream
// whose configuration is old: the task and result streams are shared by
// every run on the server, so a limit the connection's options leave at
// zero keeps the stream's own (another coordinator may have set it), and a
// limit given that changes the stream is logged, with the runs whose
// messages a lower limit may remove or refuse room to.
func (c *Conn) keepLimits(ctx context.Context, cfg *jetstream.StreamConfig, old jetstream.StreamConfig) error {
	if c.streams.MaxAge == 0 {
		cfg.MaxAge = old.MaxAge
	}
	if c.streams.MaxBytes == 0 {
		cfg.MaxBytes = old.MaxBytes
	}
	changes := []struct {
		what     string
		old, new int64
		show     func(int64) string
	}{
		{"max age (--stream-max-age)", int64(old.MaxAge), int64(cfg.MaxAge), func(v int64) string { return time.Duration(v).String() }},
		{"max bytes (--stream-max-bytes)", old.MaxBytes, cfg.MaxBytes, func(v int64) string { return fmt.Sprint(v) }},
	}
	for _, ch := range changes {
		if ch.old == ch.new {
			continue
		}
		oldS, newS := limitString(ch.old, ch.show), limitString(ch.new, ch.show)
		if !lower(ch.old, ch.new) {
			c.log.Info("raising a limit of a stream shared by every run on this NATS", "stream", cfg.Name, "limit", ch.what, "from", oldS, "to", newS)
			continue
		}
		runs, err := c.runsIn(ctx, cfg.Name)
		if err != nil {
			return err
		}
		if len(runs) > 10 {
			runs = append(runs[:10], "...")
		}
		attrs := []any{"stream", cfg.Name, "limit", ch.what, "from", oldS, "to", newS}
		if len(runs) > 0 {
			attrs = append(attrs, "runs_with_messages", strings.Join(runs, ","))
		}
		c.log.Warn("lowering a limit of a stream shared by every run on this NATS: older messages may be removed, or new ones refused, whichever run they are for", attrs...)
	}
	return nil
}

// lower tells whether limit new is tighter than old, where 0 or less means
// none (the server's 0 max age, -1 max bytes).
func lower(old, new int64) bool {
	switch {
	case new <= 0:
		return false
	case old <= 0:
		return true
	}
	return new < old
}

func limitString(v int64, show func(int64) string) string {
	if v <= 0 {
		return "none"
	}
	return show(v)
}

// ensureLease creates the workers' consumer with lease ackWait, or sets an
// existing one's lease to it. The consumer is every run's, so is its
// lease: a longer one is always applied (a dead worker's tasks come back
// later), a shorter one only while no worker holds a task. A worker renews
// its lease at a third of the lease it last read (and reads it again a
// quarter of a second into a task); one shortened under it lets the
// server hand the task to another worker mid-training, trained twice and
// counted as an attempt of its genome (a run's --max-attempts can fail it
// so). The lease then stays; the
// next coordinator to start while the queue has none held shortens it.
func (c *Conn) ensureLease(ctx context.Context, ackWait time.Duration) error {
	cfg := jetstream.ConsumerConfig{
		Durable:       ConsumerWorkers,
		Description:   "gahpo workers share this consumer",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1, // the worker gives up after the task's MaxAttempts
		MaxAckPending: -1,
	}
	cons, err := c.js.Consumer(ctx, StreamTasks, ConsumerWorkers)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)
	default:
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)
		}
		old := info.Config.AckWait
		kept := time.Duration(c.leaseKept.Swap(0))
		switch {
		case ackWait < old && info.NumAckPending > 0:
			say := c.log.Warn
			if kept == ackWait {
				say = c.log.Debug // said already: the streams ensured again as the coordinator starts
			}
			c.leaseKept.Store(int64(ackWait))
			say("keeping the workers' lease, shared by every run on this NATS: tasks are in training, and a shorter lease would hand them to other workers mid-training; the shorter one is set by a coordinator started while none is held",
				"lease", old, "asked", ackWait, "tasks_held", info.NumAckPending)
			cfg.AckWait = old
		case ackWait != old:
			c.log.Info("changing the workers' lease, shared by every run on this NATS", "from", old, "to", ackWait)
		}
	}
	if _, err := c.js.CreateOrUpdateConsumer(ctx, StreamTasks, cfg); err != nil {
		return fmt.Errorf("bus: consumer %s: %w", ConsumerWorkers, err)
	}
	return nil
}
