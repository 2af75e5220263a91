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
		stop := announce(20*time.Millisecond, time.Hour, func() { sent.Store(true) })
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
		stop := announce(time.Millisecond, time.Hour, func() {
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

// TestAnnounceRepeats: the announcement is sent again every period until
// stop, and never after stop has returned.
func TestAnnounceRepeats(t *testing.T) {
	var n atomic.Int32
	stop := announce(time.Millisecond, 5*time.Millisecond, func() { n.Add(1) })
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	sent := n.Load()
	if sent < 3 {
		t.Fatalf("sent %d times in 5 s, every 5 ms", sent)
	}
	time.Sleep(30 * time.Millisecond)
	if got := n.Load(); got != sent {
		t.Errorf("sent %d times after stop", got-sent)
	}
}
