package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DeleteObject removes an object from a bucket; a missing object or bucket
// is not an error (it is gone either way).
func (c *Conn) DeleteObject(ctx context.Context, bucket, name string) error {
	obs, err := c.js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	if err := obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("bus: delete %s/%s: %w", bucket, name, err)
	}
	return nil
}
