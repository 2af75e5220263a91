package par

// Pool keeps up to a number of free objects of type T for reuse. Unlike a
// sync.Pool, a garbage collection does not empty it: the sections of a
// training step allocate nothing once warm, and that stays so when other
// goroutines' garbage is collected meanwhile (with sync.Pools, emptied by
// two collections, a step allocated its jobs, product sections and
// workspaces anew: 40 objects a step with a collection every millisecond).
// A Pool holds no more than the most objects in use at once were, up to
// its capacity. Its methods may be called from any goroutine.
type Pool[T any] struct {
	free  chan *T
	fresh func() *T
}

// NewPool returns a pool that keeps up to capacity free objects and makes
// a new one with fresh when none is free.
func NewPool[T any](capacity int, fresh func() *T) *Pool[T] {
	return &Pool[T]{free: make(chan *T, capacity), fresh: fresh}
}

// Get returns a free object, or a new one.
func (p *Pool[T]) Get() *T {
	select {
	case x := <-p.free:
		return x
	default:
		return p.fresh()
	}
}

// Put gives x back for reuse; the pool drops it when it is full.
func (p *Pool[T]) Put(x *T) {
	select {
	case p.free <- x:
	default:
	}
}
