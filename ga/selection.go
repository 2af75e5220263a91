package ga

import (
	"math/rand/v2"
	"slices"
)

// tournament returns the index in pop of the best of size genomes drawn
// without replacement from pop, skipping index exclude (-1 for none). size is
// capped to the number of candidates.
func tournament(r *rand.Rand, pop []record, size, exclude int) int {
	idx := make([]int, 0, len(pop))
	for i := range pop {
		if i != exclude {
			idx = append(idx, i)
		}
	}
	size = min(size, len(idx))
	best := -1
	for k := range size {
		j := k + r.IntN(len(idx)-k)
		idx[k], idx[j] = idx[j], idx[k]
		c := idx[k]
		if best < 0 || Better(pop[c].fit, pop[c].g.ID, pop[best].fit, pop[best].g.ID) {
			best = c
		}
	}
	return best
}

// elites returns the indices in pop of the n best genomes with a finite
// fitness and pairwise distinct genes (by key), best first.
func elites(pop []record, n int) []int {
	order := make([]int, len(pop))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		if Better(pop[i].fit, pop[i].g.ID, pop[j].fit, pop[j].g.ID) {
			return -1
		}
		return 1 // ids are unique, so i and j never tie
	})
	var out []int
	seen := make(map[string]bool, n)
	for _, i := range order {
		if len(out) == n || !Finite(pop[i].fit) {
			break
		}
		if seen[pop[i].key] {
			continue
		}
		seen[pop[i].key] = true
		out = append(out, i)
	}
	return out
}
