package par

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// claimer returns a work function that claims the items [0, n) one at a
// time and counts how often each is done, and the counts.
func claimer(n int, each func(i int)) (func(), []atomic.Int32) {
	var next atomic.Int64
	done := make([]atomic.Int32, n)
	return func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			if each != nil {
				each(i)
			}
			done[i].Add(1)
		}
	}, done
}

// TestRunDoesEveryItemOnce runs sections of several sizes and widths, from
// several goroutines at once (as two trainings in one process do), and
// checks that every item was done exactly once by the time Run returned.
func TestRunDoesEveryItemOnce(t *testing.T) {
	for _, tc := range []struct{ callers, n, items int }{
		{1, 1, 10}, {1, 2, 1}, {1, 2, 100}, {1, 8, 1000}, {4, 2, 100}, {8, 4, 37},
	} {
		t.Run(fmt.Sprintf("callers%d_n%d_items%d", tc.callers, tc.n, tc.items), func(t *testing.T) {
			var wg sync.WaitGroup
			for range tc.callers {
				wg.Go(func() {
					for range 50 {
						work, done := claimer(tc.items, func(int) { runtime.Gosched() })
						Run(tc.n, work)
						for i := range done {
							if c := done[i].Load(); c != 1 {
								t.Errorf("item %d done %d times", i, c)
								return
							}
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestRunUsesHelpers checks that a section of two runs on two goroutines
// at once: the first call of work waits for a second before it claims
// anything.
func TestRunUsesHelpers(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS is 1: no helper may run")
	}
	for round := range 20 {
		var in atomic.Int32
		var together atomic.Bool
		work, _ := claimer(4, nil)
		Run(2, func() {
			in.Add(1)
			deadline := time.Now().Add(2 * time.Second)
			for in.Load() < 2 && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			if in.Load() >= 2 {
				together.Store(true)
			}
			work()
		})
		if !together.Load() {
			t.Fatalf("round %d: no helper joined within 2 s", round)
		}
	}
}

// TestHelpersExitWhenIdle checks that the helpers leave once idle for
// their idle time: the package's goleak check would fail otherwise, and so does
// this test, before it.
func TestHelpersExitWhenIdle(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS is 1: no helper starts")
	}
	saved := idleNs.Swap(int64(20 * time.Millisecond))
	defer idleNs.Store(saved)
	work, _ := claimer(100, func(int) { time.Sleep(10 * time.Microsecond) })
	Run(2, work)
	deadline := time.Now().Add(5 * time.Second)
	for {
		the.mu.Lock()
		n := the.helpers
		the.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d helpers still in the team 5 s after the last section", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := goleak.Find(); err != nil {
		t.Fatal(err)
	}
}
