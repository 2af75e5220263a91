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

// A job's state word: the calls of work running (the low 32 bits, the
// caller's included), the closed flag, and above them the use of the job
// (its generation), so that a helper's compare-and-swap that read the
// state of an earlier use fails instead of joining the next use past its
// max.
const (
	// counted masks the calls running.
	counted = 1<<32 - 1
	// closed is set once the caller's own call of work has returned: no
	// helper joins after it.
	closed = 1 << 32
	// genShift is where the generation starts; generations wrap after
	// 2^30 uses of one job.
	genShift = 33
	genMask  = 1<<30 - 1
)

// yielded is how long a yield of a spinning helper may take before the
// helper concludes that other goroutines want its processor and sleeps.
const yielded = 50 * time.Microsecond

// job is one parallel section. Jobs are pooled, so that a section
// allocates nothing: a job is used again once its caller has returned
// (every helper that joined it has left by then), and the generation in
// its state tells a helper which use of it is on offer.
type job struct {
	// The section's work, one of the three, set before the job is offered
	// and cleared when it is returned to the pool.
	run   func()                  // Run's: claims its own items
	each  func(i int)             // For's: item i
	chunk func(chunk, lo, hi int) // Chunks': chunk i of [0, size)
	n     int64                   // For's and Chunks' items
	size  int64                   // Chunks': what the chunks cut up
	next  atomic.Int64            // For's and Chunks' next unclaimed item

	// max is the most calls of work at once, the caller's included.
	max atomic.Int64
	// state counts the calls of work running and holds the closed flag
	// and the generation (see counted, closed, genShift).
	state atomic.Int64
	// done receives a token from the helper whose leaving ends a closed
	// job, if a helper was still in it when it closed.
	done chan struct{}
	// panicked holds what a helper's call of work panicked with, for the
	// caller to panic with in turn.
	panicked atomic.Pointer[any]
}

// jobs holds the jobs not in use: more than sections nest.
var jobs = NewPool(64, func() *job { return &job{done: make(chan struct{}, 1)} })

// work is one call of the section's work: Run's function, or claiming
// items from next until none is left.
func (j *job) work() {
	if j.run != nil {
		j.run()
		return
	}
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		if j.each != nil {
			j.each(int(i))
		} else {
			j.chunk(int(i), int(i*j.size/j.n), int((i+1)*j.size/j.n))
		}
	}
}

// open tells whether a helper may join the job in state s: not closed,
// not full.
func (j *job) open(s int64) bool { return s&closed == 0 && s&counted < j.max.Load() }

// join counts a helper in, unless the job is closed or full or its use is
// gen (the one the helper last helped with); it returns the generation it
// joined.
func (j *job) join(last bool, gen int64) (int64, bool) {
	for {
		s := j.state.Load()
		g := s >> genShift
		if last && g == gen || !j.open(s) {
			return 0, false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return g, true
		}
	}
}

// help is a helper's call of work: a panic is kept for the caller, and the
// helper leaves the job, sending done's token if it is the last of a
// closed one.
func (j *job) help() {
	defer func() {
		if r := recover(); r != nil {
			p := r // a variable of its own: &p would put every call's on the heap
			j.panicked.CompareAndSwap(nil, &p)
		}
		if j.state.Add(-1)&^(genMask<<genShift) == closed {
			j.done <- struct{}{}
		}
	}()
	j.work()
}

// finish closes the job to helpers and waits for those that joined (each
// is finishing the items it claimed): spinning for a while, as they do,
// then asleep. It withdraws the job from the team.
func (j *job) finish() {
	if j.state.Add(closed-1)&counted != 0 {
		// The last helper to leave sends a token: wait for it, after
		// spinning a while, so that the job is free to be used again.
		deadline := time.Now().Add(time.Duration(spinNs.Load()))
		for i := 0; j.state.Load()&counted != 0; i++ {
			if i%16 == 15 && time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
		<-j.done
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
	if n = threads(n); n < 2 {
		work()
		return
	}
	j := jobs.Get()
	j.run = work
	start(j, n)
}

// For calls fn(i) for every i in [0, n), each once, on the calling
// goroutine and up to t-1 helpers (see Run), which claim the indices one
// at a time from a counter, and returns when all calls have returned.
func For(n, t int, fn func(i int)) {
	if t = threads(min(t, n)); t < 2 {
		for i := range n {
			fn(i)
		}
		return
	}
	j := jobs.Get()
	j.each, j.n = fn, int64(n)
	start(j, t)
}

// Chunks cuts [0, size) into c contiguous chunks, chunk i being [i·size/c,
// (i+1)·size/c), and calls fn(i, lo, hi) for each, as For does.
func Chunks(size, c, t int, fn func(chunk, lo, hi int)) {
	if t = threads(min(t, c)); t < 2 {
		for i := range c {
			fn(i, i*size/c, (i+1)*size/c)
		}
		return
	}
	j := jobs.Get()
	j.chunk, j.n, j.size = fn, int64(c), int64(size)
	start(j, t)
}

// threads bounds n by GOMAXPROCS and the team's size.
func threads(n int) int { return min(n, runtime.GOMAXPROCS(0), cap(the.wake)+1) }

// start offers the job, whose work is set, to n-1 helpers, calls its work
// here, waits for the helpers, returns the job to the pool and raises a
// helper's panic.
func start(j *job, n int) {
	j.next.Store(0)
	j.panicked.Store(nil)
	j.max.Store(int64(n))
	gen := (j.state.Load()>>genShift + 1) & genMask
	j.state.Store(gen<<genShift | 1)
	the.offer(j, n-1)
	returned := false
	defer func() {
		if !returned { // the caller's call panicked: close the job all the same
			j.finish()
		}
	}()
	j.work()
	returned = true
	j.finish()
	p := j.panicked.Load()
	j.run, j.each, j.chunk = nil, nil, nil // keep nothing of the section reachable
	jobs.Put(j)
	if p != nil {
		panic(*p)
	}
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
	var (
		last *job
		gen  int64
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if j, g := t.spin(last, gen); j != nil {
			last, gen = j, g
			j.help()
			continue
		}
		if !t.sleep(timer) {
			return
		}
		last = nil
	}
}

// spin watches for a section other than use gen of last to join, for
// spinNs; it returns the job and the use it joined, or nil.
func (t *team) spin(last *job, gen int64) (*job, int64) {
	now := time.Now()
	deadline := now.Add(time.Duration(spinNs.Load()))
	for i := 0; ; i++ {
		if j := t.current.Load(); j != nil {
			if g, ok := j.join(j == last, gen); ok {
				return j, g
			}
		}
		if i%16 == 15 {
			if now.After(deadline) {
				return nil, 0
			}
			runtime.Gosched()
			// A yield that took long gave the processor to other
			// goroutines that wanted it: the cores are all busy, so
			// spinning would only take time from them.
			prev := now
			if now = time.Now(); now.Sub(prev) > yielded {
				return nil, 0
			}
		}
	}
}

// sleep waits for a wake token, unless a section that it could join is
// offered; it reports false when the helper has slept idleNs (on timer,
// the helper's own, stopped) and has left the team.
func (t *team) sleep(timer *time.Timer) bool {
	t.mu.Lock()
	if j := t.current.Load(); j != nil && j.open(j.state.Load()) {
		t.mu.Unlock()
		return true
	}
	t.sleepers.Add(1)
	t.mu.Unlock()
	timer.Reset(time.Duration(idleNs.Load()))
	select {
	case <-t.wake: // offer counted this helper out of the sleepers
		timer.Stop()
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
