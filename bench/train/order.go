package main

import "math/rand/v2"

// order hands out the training images batch after batch in one random
// order drawn once, as the peer does with torch.randperm: a batch that
// would run past the end starts again at the front of the same order.
type order struct {
	perm []int
	pos  int
}

// newOrder returns a random order of n images drawn from seed.
func newOrder(n int, seed uint64) *order {
	return &order{perm: rand.New(rand.NewPCG(seed, 0)).Perm(n)}
}

// next returns the indices of the next batch of size bs (at most n); the
// slice is valid until the next call.
func (o *order) next(bs int) []int {
	if o.pos+bs > len(o.perm) {
		o.pos = 0
	}
	b := o.perm[o.pos : o.pos+bs]
	o.pos += bs
	return b
}
