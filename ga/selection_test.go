package ga

import (
	"math"
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
