package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Endpoint answers one kind of live query: it gets the request body and
// returns a value sent back as JSON.
type Endpoint func(ctx context.Context, req []byte) (any, error)

// ErrNoService is returned when no coordinator answers on the cluster.
var ErrNoService = errors.New("bus: no running coordinator answered (is one running on this NATS?)")

// QueryError is an error answered by a coordinator.
type QueryError struct {
	Code, Message string
}

func (e *QueryError) Error() string { return "coordinator: " + e.Message }

// Serve registers the coordinator of run as a NATS micro service named
// "gahpo", with one endpoint per entry of endpoints under the subject
// prefix gahpo.<run>. Stop it with the returned function.
func (c *Conn) Serve(ctx context.Context, run, version string, endpoints map[string]Endpoint) (stop func() error, err error) {
	svc, err := micro.AddService(c.nc, micro.Config{
		Name:        ServiceName,
		Version:     version,
		Description: "gahpo coordinator: live queries and status",
		Metadata:    map[string]string{"run_id": run, "started": time.Now().UTC().Format(time.RFC3339Nano)},
	})
	if err != nil {
		return nil, fmt.Errorf("bus: add service: %w", err)
	}
	group := svc.AddGroup("gahpo."+run, micro.WithGroupQueueGroupDisabled())
	names := make([]string, 0, len(endpoints))
	for name := range endpoints {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fn := endpoints[name]
		h := micro.ContextHandler(ctx, func(ctx context.Context, r micro.Request) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			v, err := fn(ctx, r.Data())
			if err != nil {
				_ = r.Error("400", err.Error(), nil)
				return
			}
			if err := r.RespondJSON(v); err != nil {
				_ = r.Error("500", err.Error(), nil)
			}
		})
		if err := group.AddEndpoint(name, h, micro.WithEndpointMetadata(map[string]string{"run_id": run})); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("bus: add endpoint %s: %w", name, err)
		}
	}
	return svc.Stop, nil
}

// Service is one running coordinator found on the cluster.
type Service struct {
	ID      string
	RunID   string
	Started string
	Version string
}

// Discover lists the running coordinators, newest first.
func (c *Conn) Discover(ctx context.Context) ([]Service, error) {
	if err := c.inbox.refusal(); err != nil {
		return nil, err // no answer could reach us: not "no coordinator"
	}
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("bus: discover: %w", err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.PublishRequest("$SRV.INFO."+ServiceName, inbox, nil); err != nil {
		return nil, fmt.Errorf("bus: discover: %w", err)
	}
	var out []Service
	wait := time.Second
	for {
		ctx, cancel := context.WithTimeout(ctx, wait)
		m, err := sub.NextMsgWithContext(ctx)
		cancel()
		if err != nil {
			break
		}
		wait = 200 * time.Millisecond
		var info micro.Info
		if json.Unmarshal(m.Data, &info) != nil {
			continue
		}
		out = append(out, Service{ID: info.ID, RunID: info.Metadata["run_id"], Started: info.Metadata["started"], Version: info.Version})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if err := c.inbox.refusal(); err != nil {
			return nil, err
		}
		return nil, ErrNoService
	}
	slices.SortFunc(out, func(a, b Service) int { return -cmpString(a.Started, b.Started) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Query asks the coordinator of run for endpoint with req (marshalled as
// JSON) and decodes the answer into resp.
func (c *Conn) Query(ctx context.Context, run, endpoint string, req, resp any) error {
	if err := c.inbox.refusal(); err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("bus: query %s: %w", endpoint, err)
	}
	m, err := c.nc.RequestWithContext(ctx, "gahpo."+run+"."+endpoint, body)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w (query %s)", ErrNoService, endpoint)
	}
	if err != nil {
		return c.inbox.explain(fmt.Errorf("bus: query %s: %w", endpoint, err))
	}
	if msg := m.Header.Get(micro.ErrorHeader); msg != "" {
		return &QueryError{Code: m.Header.Get(micro.ErrorCodeHeader), Message: msg}
	}
	if err := json.Unmarshal(m.Data, resp); err != nil {
		return fmt.Errorf("bus: query %s: decode answer: %w", endpoint, err)
	}
	return nil
}
