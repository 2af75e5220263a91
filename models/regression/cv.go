package regression

import "math/rand/v2"

// Streams of the PCG source: the seed picks the sequence family, the stream
// separates its independent uses, so that changing one use (say the fold
// count) does not shift the random numbers of another.
const (
	streamSplit = 0 // the fold assignment
	streamFull  = 1 // TrainFull's init and shuffles
	streamFold0 = 2 // fold f trains with stream streamFold0+f
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// fold is one split of k-fold cross-validation: indices into the data.
type fold struct {
	train, val []int
}

// kFold shuffles the indices 0..n-1 with rng and cuts them into k
// validation folds whose sizes differ by at most one; each fold's training
// part is every index outside it. It needs 2 <= k <= n.
func kFold(n, k int, rng *rand.Rand) []fold {
	perm := rng.Perm(n)
	folds := make([]fold, k)
	start := 0
	for f := range k {
		size := n / k
		if f < n%k {
			size++
		}
		end := start + size
		val := perm[start:end:end]
		train := make([]int, 0, n-size)
		train = append(train, perm[:start]...)
		train = append(train, perm[end:]...)
		folds[f] = fold{train: train, val: val}
		start = end
	}
	return folds
}
