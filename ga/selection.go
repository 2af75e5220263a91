package ga

import (
	"math/rand/v2"
	"slices"
)

// tournament returns the index in pop of the best of size genomes drawn
// without replacement from pop, skipping index exclude (-1 for none). size is
// capped to the number of candidates.
func tournament(r *rand.Rand, pop []record, size, exclude int) int {
	n := len(pop)
	skip := exclude >= 0 && exclude < n
	if skip {
		n--
	}
	best := -1
	draw(r, n, min(size, n), func(p int) {
		c := p // the p-th candidate: pop's indices in order, without exclude
		if skip && p >= exclude {
			c++
		}
		if best < 0 || Better(pop[c].fit, pop[c].g.ID, pop[best].fit, pop[best].g.ID) {
			best = c
		}
	})
	return best
}

// sparseDraws is the most draws that draw makes without allocating.
const sparseDraws = 8

// draw calls pick with size positions of [0, n) drawn without replacement:
// those a partial Fisher-Yates shuffle of the list 0..n-1 puts first, one
// draw of r each, in order (j := k + r.IntN(n-k), then swap k and j). It
// keeps only the positions the swaps moved, so that a tournament of a few
// drawn from a population of hundreds allocates nothing (it copied the
// population's indices, twice for every child); more than sparseDraws
// draws shuffle a list as before. The draws, and so every run's genomes,
// are the same either way.
func draw(r *rand.Rand, n, size int, pick func(p int)) {
	if size > sparseDraws {
		list := make([]int, n)
		for i := range list {
			list[i] = i
		}
		for k := range size {
			j := k + r.IntN(n-k)
			list[k], list[j] = list[j], list[k]
			pick(list[k])
		}
		return
	}
	var moved [2 * sparseDraws]struct{ at, val int } // positions whose value a swap changed
	m := 0
	get := func(p int) int {
		for i := range m {
			if moved[i].at == p {
				return moved[i].val
			}
		}
		return p
	}
	set := func(p, v int) {
		for i := range m {
			if moved[i].at == p {
				moved[i].val = v
				return
			}
		}
		moved[m].at, moved[m].val = p, v
		m++
	}
	for k := range size {
		j := k + r.IntN(n-k)
		vk, vj := get(k), get(j)
		set(k, vj)
		set(j, vk)
		pick(vj)
	}
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
