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

// TestRunPanics checks that a panic in the caller's call of work leaves
// no helper calling work after Run has unwound, and that a panic in a
// helper's call comes back to the caller, after every call has returned.
func TestRunPanics(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS is 1: no helper runs")
	}
	t.Run("caller", func(t *testing.T) {
		for range 20 {
			var unwound atomic.Bool
			var late atomic.Int32
			var first atomic.Bool
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the caller's panic was lost")
					}
					unwound.Store(true)
				}()
				Run(2, func() {
					if unwound.Load() {
						late.Add(1)
					}
					if first.CompareAndSwap(false, true) {
						time.Sleep(time.Millisecond) // a helper may join meanwhile
						panic("caller")
					}
					time.Sleep(100 * time.Microsecond)
				})
			}()
			time.Sleep(5 * time.Millisecond)
			if n := late.Load(); n != 0 {
				t.Fatalf("work called %d times after Run unwound", n)
			}
		}
	})
	t.Run("helper", func(t *testing.T) {
		caught := 0
		for range 20 {
			var calls, running atomic.Int32
			func() {
				defer func() {
					p := recover()
					if p == nil {
						return
					}
					if p != "helper" {
						t.Fatalf("panic %v, want the helper's", p)
					}
					if n := running.Load(); n != 0 {
						t.Fatalf("Run panicked with %d calls of work still running", n)
					}
					caught++
				}()
				Run(2, func() {
					running.Add(1)
					defer running.Add(-1)
					if calls.Add(1) == 2 { // the second call: mostly a helper's
						panic("helper")
					}
					time.Sleep(2 * time.Millisecond)
				})
			}()
		}
		if caught == 0 {
			t.Fatal("no helper's panic came back in 20 runs")
		}
	})
}

// TestFor checks that For calls fn once for every index, whatever the
// goroutines asked for, none included.
func TestFor(t *testing.T) {
	for _, tc := range []struct{ n, t int }{{0, 2}, {1, 1}, {1, 4}, {5, 2}, {100, 2}, {100, 64}, {37, 0}} {
		calls := make([]atomic.Int32, tc.n)
		For(tc.n, tc.t, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Fatalf("n %d, t %d: fn(%d) called %d times", tc.n, tc.t, i, c)
			}
		}
	}
}

// TestChunks checks that Chunks cuts [0, size) into its chunks exactly,
// each once, from several goroutines at once (jobs are pooled and used
// again: a job another caller still used would show as a chunk done twice
// or never).
func TestChunks(t *testing.T) {
	for _, tc := range []struct{ size, c, t, callers int }{
		{0, 1, 2, 1}, {10, 1, 2, 1}, {10, 3, 2, 1}, {7, 7, 4, 1}, {1000, 16, 2, 1}, {64, 8, 2, 4}, {129, 5, 8, 3},
	} {
		t.Run(fmt.Sprintf("size%d_c%d_t%d_callers%d", tc.size, tc.c, tc.t, tc.callers), func(t *testing.T) {
			var wg sync.WaitGroup
			for range tc.callers {
				wg.Go(func() {
					for range 100 {
						covered := make([]atomic.Int32, tc.size)
						calls := make([]atomic.Int32, tc.c)
						Chunks(tc.size, tc.c, tc.t, func(chunk, lo, hi int) {
							calls[chunk].Add(1)
							if lo != chunk*tc.size/tc.c || hi != (chunk+1)*tc.size/tc.c {
								t.Errorf("chunk %d is [%d, %d)", chunk, lo, hi)
							}
							for i := lo; i < hi; i++ {
								covered[i].Add(1)
							}
						})
						for i := range calls {
							if n := calls[i].Load(); n != 1 {
								t.Errorf("chunk %d called %d times", i, n)
								return
							}
						}
						for i := range covered {
							if n := covered[i].Load(); n != 1 {
								t.Errorf("item %d covered %d times", i, n)
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

// sink keeps TestSectionsAllocateNothing's sums observable.
var sink atomic.Int64

// TestSectionsAllocateNothing: a section started with a function value
// made once allocates nothing, helpers or not (a training step starts
// some twenty-five).
func TestSectionsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	each := func(i int) { sink.Add(int64(i)) }
	chunk := func(c, lo, hi int) { sink.Add(int64(hi - lo)) }
	work := func() { sink.Add(1) }
	for name, section := range map[string]func(){
		"For":    func() { For(64, 2, each) },
		"Chunks": func() { Chunks(1000, 8, 2, chunk) },
		"Run":    func() { Run(2, work) },
	} {
		if n := testing.AllocsPerRun(200, section); n > 0 {
			t.Errorf("%s: %.2f allocations a section, want none", name, n)
		}
	}
}

// TestJoin: a helper joins an open use of a job below its max, never a
// closed one nor the use it last helped with; the generation it returns
// is the use it joined (a compare-and-swap on a state read from an
// earlier use fails, since the generation is part of the state word).
func TestJoin(t *testing.T) {
	state := func(gen, calls int64, isClosed bool) int64 {
		s := gen<<genShift | calls
		if isClosed {
			s |= closed
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		state    int64
		max      int64
		last     bool
		lastGen  int64
		wantOK   bool
		wantGen  int64
		wantNext int64
	}{
		{"open", state(5, 1, false), 2, false, 0, true, 5, state(5, 2, false)},
		{"full", state(5, 2, false), 2, false, 0, false, 0, state(5, 2, false)},
		{"closed", state(5, 1, true), 4, false, 0, false, 0, state(5, 1, true)},
		{"helped with this use", state(5, 1, false), 4, true, 5, false, 0, state(5, 1, false)},
		{"helped with the last use", state(6, 1, false), 4, true, 5, true, 6, state(6, 2, false)},
		{"another job's use of the same number", state(5, 1, false), 4, false, 5, true, 5, state(5, 2, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &job{done: make(chan struct{}, 1)}
			j.max.Store(tc.max)
			j.state.Store(tc.state)
			gen, ok := j.join(tc.last, tc.lastGen)
			if ok != tc.wantOK || gen != tc.wantGen {
				t.Errorf("join = %d, %v, want %d, %v", gen, ok, tc.wantGen, tc.wantOK)
			}
			if got := j.state.Load(); got != tc.wantNext {
				t.Errorf("state %#x, want %#x", got, tc.wantNext)
			}
		})
	}
}
