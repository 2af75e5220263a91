package bus

import (
	"context"
	"errors"
	"fmt"

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
