package worker

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestAnnounceStop: stop, called before the announcement's time, means it
// is never sent; called while it is being sent, stop returns only once it
// is sent (a timer's Stop alone returned at once, and the event went out
// after the result it was to precede); and stop may be called again.
func TestAnnounceStop(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		var sent atomic.Bool
		stop := announce(20*time.Millisecond, func() { sent.Store(true) })
		stop()
		time.Sleep(60 * time.Millisecond)
		if sent.Load() {
			t.Error("sent after stop")
		}
		stop()
	})
	t.Run("while sending", func(t *testing.T) {
		sending, release := make(chan struct{}), make(chan struct{})
		var sent atomic.Bool
		stop := announce(time.Millisecond, func() {
			close(sending)
			<-release
			sent.Store(true)
		})
		<-sending
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		select {
		case <-stopped:
			t.Fatal("stop returned while the announcement was being sent")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		<-stopped
		if !sent.Load() {
			t.Error("stop returned before the send was over")
		}
		stop()
	})
}
