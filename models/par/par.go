package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Durations of the helpers' waits, in nanoseconds (atomics, so that tests
// may shorten them while helpers run).
var (
	// spinNs is how long a helper watches for the next section after one,
	// before it sleeps.
	spinNs atomic.Int64
	// idleNs is how long a helper sleeps without a section before it
	// exits.
	idleNs atomic.Int64
)

func init() {
	spinNs.Store(int64(2 * time.Millisecond))
	idleNs.Store(int64(100 * time.Millisecond))
}

// closed is the flag of job.state set once the caller's own call of work
// has returned: no helper joins after it.
const closed = 1 << 32

// yielded is how long a yield of a spinning helper may take before the
// helper concludes that other goroutines want its processor and sleeps.
const yielded = 50 * time.Microsecond

// job is one parallel section.
type job struct {
	work func()
	max  int64 // the most calls of work at once, the caller's included
	// state counts the calls of work running (low 32 bits, the caller's
	// included) and holds the closed flag.
	state atomic.Int64
	// done is closed by the helper whose leaving ends a closed job.
	done chan struct{}
	// panicked holds what a helper's call of work panicked with, for the
	// caller to panic with in turn.
	panicked atomic.Pointer[any]
}

// open tells whether a helper may join the job in state s: not closed,
// not full.
func (j *job) open(s int64) bool { return s&closed == 0 && s&(closed-1) < j.max }

// join counts a helper in, unless the job is closed or full.
func (j *job) join() bool {
	for {
		s := j.state.Load()
		if !j.open(s) {
			return false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// help is a helper's call of work: a panic is kept for the caller, and the
// helper leaves the job, closing done if it is the last of a closed one.
func (j *job) help() {
	defer func() {
		if r := recover(); r != nil {
			p := r // a variable of its own: &p would put every call's on the heap
			j.panicked.CompareAndSwap(nil, &p)
		}
		if j.state.Add(-1) == closed {
			close(j.done)
		}
	}()
	j.work()
}

// finish closes the job to helpers and waits for those that joined (each
// is finishing the items it claimed): spinning for a while, as they do,
// then asleep. It withdraws the job from the team, so that nothing the
// section's closure holds stays reachable.
func (j *job) finish() {
	if j.state.Add(closed-1)&(closed-1) != 0 {
		deadline := time.Now().Add(time.Duration(spinNs.Load()))
		for i := 0; j.state.Load()&(closed-1) != 0; i++ {
			if i%16 == 15 && time.Now().After(deadline) {
				<-j.done
				break
			}
			runtime.Gosched()
		}
	}
	the.current.CompareAndSwap(j, nil)
}

// team is the helpers of the process.
type team struct {
	current  atomic.Pointer[job] // the section offered to helpers
	sleepers atomic.Int32        // helpers asleep, not yet sent a token (changed under mu)
	mu       sync.Mutex
	helpers  int           // helpers running (under mu)
	wake     chan struct{} // a token per helper to wake
}

var the = team{wake: make(chan struct{}, 256)}

// Run calls work on the calling goroutine and, at the same time, on up to
// n-1 helper goroutines (fewer when GOMAXPROCS is smaller or helpers are
// busy), and returns when every call has returned. work must claim its
// work items itself, each exactly once across concurrent calls, so that
// any number of calls does all of it; n < 2 calls work once, here. A
// panic in a call of work on a helper is raised again here, once every
// call has returned; a panic in the caller's returns only then as well.
func Run(n int, work func()) {
	n = min(n, runtime.GOMAXPROCS(0), cap(the.wake)+1)
	if n < 2 {
		work()
		return
	}
	j := &job{work: work, max: int64(n), done: make(chan struct{})}
	j.state.Store(1)
	the.offer(j, n-1)
	returned := false
	defer func() {
		if !returned { // the caller's call panicked: close the job all the same
			j.finish()
		}
	}()
	work()
	returned = true
	j.finish()
	if p := j.panicked.Load(); p != nil {
		panic(*p)
	}
}

// For calls fn(i) for every i in [0, n), each once, on the calling
// goroutine and up to t-1 helpers (see Run), which claim the indices one
// at a time from a counter, and returns when all calls have returned.
func For(n, t int, fn func(i int)) {
	var next atomic.Int64
	Run(min(t, n), func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i)
		}
	})
}

// offer makes j the current section, wakes up to want sleeping helpers
// (counting each out of the sleepers as its token is sent), and starts new
// ones while fewer than want belong to the team.
func (t *team) offer(j *job, want int) {
	t.current.Store(j)
	t.mu.Lock()
	for range min(int(t.sleepers.Load()), want) {
		select {
		case t.wake <- struct{}{}:
			t.sleepers.Add(-1)
		default:
		}
	}
	start := max(0, want-t.helpers)
	t.helpers += start
	t.mu.Unlock()
	for range start {
		go t.helper()
	}
}

// helper joins the sections offered, spinning after each, sleeping when
// none comes, and exits after idleNs asleep.
func (t *team) helper() {
	var last *job
	for {
		if j := t.spin(last); j != nil {
			last = j
			j.help()
			continue
		}
		if !t.sleep() {
			return
		}
		last = nil
	}
}

// spin watches for a section other than last to join, for spinNs; it
// returns the one it joined, or nil.
func (t *team) spin(last *job) *job {
	now := time.Now()
	deadline := now.Add(time.Duration(spinNs.Load()))
	for i := 0; ; i++ {
		if j := t.current.Load(); j != nil && j != last && j.join() {
			return j
		}
		if i%16 == 15 {
			if now.After(deadline) {
				return nil
			}
			runtime.Gosched()
			// A yield that took long gave the processor to other
			// goroutines that wanted it: the cores are all busy, so
			// spinning would only take time from them.
			prev := now
			if now = time.Now(); now.Sub(prev) > yielded {
				return nil
			}
		}
	}
}

// sleep waits for a wake token, unless a section that it could join is
// offered; it reports false when the helper has slept idleNs and has left
// the team.
func (t *team) sleep() bool {
	t.mu.Lock()
	if j := t.current.Load(); j != nil && j.open(j.state.Load()) {
		t.mu.Unlock()
		return true
	}
	t.sleepers.Add(1)
	t.mu.Unlock()
	timer := time.NewTimer(time.Duration(idleNs.Load()))
	defer timer.Stop()
	select {
	case <-t.wake: // offer counted this helper out of the sleepers
		return true
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.wake: // a token sent as the timer fired: this helper's
		return true
	default:
	}
	t.sleepers.Add(-1)
	t.helpers--
	return false
}
