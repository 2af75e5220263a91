package ga

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// pop builds records with ids 1..len(fits), keys from keys (default: distinct).
func pop(fits []float64, keys ...string) []record {
	recs := make([]record, len(fits))
	for i, f := range fits {
		key := string(rune('a' + i))
		if i < len(keys) {
			key = keys[i]
		}
		recs[i] = record{g: Genome{ID: i + 1}, fit: f, known: true, key: key}
	}
	return recs
}

func TestTournament(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		fits    []float64
		size    int
		exclude int
		check   func(counts []int) bool
		want    string
	}{
		{
			name: "full size always picks the best", fits: []float64{3, 1, 2, nan}, size: 4, exclude: -1,
			check: func(c []int) bool { return c[1] == 3000 }, want: "index 1 every time",
		},
		{
			name: "full size with the best excluded", fits: []float64{3, 1, 2, nan}, size: 4, exclude: 1,
			check: func(c []int) bool { return c[2] == 3000 }, want: "index 2 every time",
		},
		{
			name: "size capped to candidates", fits: []float64{3, 1}, size: 2, exclude: 1,
			check: func(c []int) bool { return c[0] == 3000 }, want: "index 0 every time",
		},
		{
			name: "size 1 is uniform", fits: []float64{4, 3, 2, 1}, size: 1, exclude: -1,
			check: func(c []int) bool {
				for _, n := range c {
					if n < 650 || n > 850 { // 750 expected, sd ~24
						return false
					}
				}
				return true
			},
			want: "about 750 each",
		},
		{
			name: "size 2 of 4 never picks the worst", fits: []float64{1, 2, 3, nan}, size: 2, exclude: -1,
			// P(best) = 1/2, P(second) = 1/3, P(third) = 1/6, P(worst) = 0.
			check: func(c []int) bool { return c[3] == 0 && c[0] > 1400 && c[0] < 1600 && c[2] > 400 && c[2] < 600 },
			want:  "about 1500, 1000, 500, 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pop(tt.fits)
			r := newRand(9)
			counts := make([]int, len(p))
			for range 3000 {
				i := tournament(r, p, tt.size, tt.exclude)
				if i == tt.exclude {
					t.Fatalf("picked the excluded index %d", i)
				}
				counts[i]++
			}
			if !tt.check(counts) {
				t.Errorf("counts %v, want %s", counts, tt.want)
			}
		})
	}
}

func TestElites(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		fits []float64
		keys []string
		n    int
		want []int
	}{
		{name: "the k best in order", fits: []float64{5, 1, 4, 2, 3}, n: 3, want: []int{1, 3, 4}},
		{name: "none", fits: []float64{5, 1}, n: 0, want: nil},
		{name: "ties by id", fits: []float64{2, 1, 1, 1}, n: 2, want: []int{1, 2}},
		{name: "equal genes once", fits: []float64{1, 1, 2}, keys: []string{"x", "x", "y"}, n: 2, want: []int{0, 2}},
		{name: "non-finite never", fits: []float64{nan, 3, inf, -inf}, n: 3, want: []int{1}},
		{name: "all failed", fits: []float64{inf, inf}, n: 1, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pop(tt.fits, tt.keys...)
			if got := elites(p, tt.n); !slices.Equal(got, tt.want) {
				t.Errorf("elites = %v, want %v", got, tt.want)
			}
		})
	}
}

// shuffledTournament is tournament as it was, shuffling a copy of the
// candidates' indices: draw must pick what it picked, with the same draws.
func shuffledTournament(r *rand.Rand, pop []record, size, exclude int) int {
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

// TestTournamentDrawsAsShuffled: the tournament that keeps only the
// positions its swaps moved picks, for every seed, population, size and
// exclusion, the genome the shuffled copy picked, and leaves the random
// source where it left it (every run's genomes stay the same).
func TestTournamentDrawsAsShuffled(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 50, 200} {
		for _, size := range []int{1, 2, 3, 5, sparseDraws, sparseDraws + 1, 20, 300} {
			for _, exclude := range []int{-1, 0, n / 2, n - 1} {
				for seed := range uint64(20) {
					fits := make([]float64, n)
					fr := newRand(seed + 100)
					for i := range fits {
						fits[i] = math.Floor(fr.Float64() * 10) // ties, broken by id
					}
					p := pop(fits)
					a, b := newRand(seed), newRand(seed)
					got, want := tournament(a, p, size, exclude), shuffledTournament(b, p, size, exclude)
					if got != want || a.Uint64() != b.Uint64() {
						t.Fatalf("n %d size %d exclude %d seed %d: picked %d, the shuffle %d (or the random source moved on otherwise)", n, size, exclude, seed, got, want)
					}
				}
			}
		}
	}
}

// shuffledPoolTournament is Pool.tournament as it was, shuffling a copy of
// the members.
func shuffledPoolTournament(q *Pool, r *rand.Rand, members []int, exclude int) int {
	idx := make([]int, 0, len(members))
	for _, id := range members {
		if id != exclude {
			idx = append(idx, id)
		}
	}
	size := min(q.cfg.TournamentSize, len(idx))
	best := 0
	for k := range size {
		j := k + r.IntN(len(idx)-k)
		idx[k], idx[j] = idx[j], idx[k]
		c := idx[k]
		if best == 0 || Ahead(q.recs[c-1].Score, c, q.recs[best-1].Score, best) {
			best = c
		}
	}
	return best
}

// TestPoolTournamentDrawsAsShuffled is TestTournamentDrawsAsShuffled for a
// steady state's pool: members are ids in the pool's order, exclude an id.
func TestPoolTournamentDrawsAsShuffled(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 60} {
		for _, size := range []int{1, 3, sparseDraws + 1, 100} {
			for seed := range uint64(20) {
				fr := newRand(seed + 100)
				q := &Pool{cfg: Config{TournamentSize: size}}
				members := make([]int, n)
				for i := range n {
					q.recs = append(q.recs, poolRec{Score: Score{Rung: int(fr.IntN(2)), Fitness: math.Floor(fr.Float64() * 10)}})
					members[i] = i + 1
				}
				fr.Shuffle(n, func(i, j int) { members[i], members[j] = members[j], members[i] })
				for _, exclude := range []int{0, 1, n / 2, n, n + 5} {
					a, b := newRand(seed), newRand(seed)
					got, want := q.tournament(a, members, exclude), shuffledPoolTournament(q, b, members, exclude)
					if got != want || a.Uint64() != b.Uint64() {
						t.Fatalf("n %d size %d exclude %d seed %d: picked %d, the shuffle %d (or the random source moved on otherwise)", n, size, exclude, seed, got, want)
					}
				}
			}
		}
	}
}
