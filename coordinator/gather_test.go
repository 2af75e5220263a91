package coordinator

import (
	"errors"
	"testing"

	"github.com/gahpo/gahpo/bus"
)

func TestGather(t *testing.T) {
	d := make([]*bus.Delivery, 6) // distinct pointers: gather must keep them, in order
	for i := range d {
		d[i] = &bus.Delivery{}
	}
	gone := errors.New("consumer deleted")
	tests := []struct {
		name      string
		waiting   []next // on the channel behind the first delivery
		limit     int
		want      []*bus.Delivery
		wantAfter error
		wantLeft  int // still on the channel
	}{
		{"alone", nil, 8, d[:1], nil, 0},
		{"those waiting join", []next{{d: d[1]}, {d: d[2]}}, 8, d[:3], nil, 0},
		{"no more than the limit", []next{{d: d[1]}, {d: d[2]}, {d: d[3]}}, 2, d[:2], nil, 2},
		{"a limit of one takes the first only", []next{{d: d[1]}}, 1, d[:1], nil, 1},
		{"an error behind the batch comes after it", []next{{d: d[1]}, {err: gone}}, 8, d[:2], gone, 0},
		{"an error right behind the first", []next{{err: gone}, {d: d[2]}}, 8, d[:1], gone, 1},
		{"an error past the limit is left for the next step", []next{{d: d[1]}, {err: gone}}, 2, d[:2], nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan next, len(tt.waiting))
			for _, n := range tt.waiting {
				ch <- n
			}
			batch, after := gather(d[0], ch, tt.limit)
			if len(batch) != len(tt.want) {
				t.Fatalf("batch of %d, want %d", len(batch), len(tt.want))
			}
			for i := range batch {
				if batch[i] != tt.want[i] {
					t.Errorf("batch[%d] is not delivery %d", i, i)
				}
			}
			if !errors.Is(after, tt.wantAfter) || (after == nil) != (tt.wantAfter == nil) {
				t.Errorf("after = %v, want %v", after, tt.wantAfter)
			}
			if len(ch) != tt.wantLeft {
				t.Errorf("%d left on the channel, want %d", len(ch), tt.wantLeft)
			}
		})
	}
}
