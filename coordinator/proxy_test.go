package coordinator

import (
	"fmt"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestProxyAlerts: a low rung is warned of once when it turns low, again
// only when its correlation moves by proxyShift or more, and said once to
// be no longer low when it recovers clearly (not when it hovers about the
// threshold); a rung over too few genomes is never low.
func TestProxyAlerts(t *testing.T) {
	rc := func(rung, genomes int, rho float64) gahpo.RungCorrelation {
		return gahpo.RungCorrelation{Rung: rung, Epochs: 1 + rung, Genomes: genomes, Spearman: gahpo.Float(rho)}
	}
	tests := []struct {
		name  string
		steps [][]gahpo.RungCorrelation // the run's proxy after each result
		want  []string                  // per step, the alerts as "rung:rho:low"
	}{
		{"the same low value on every result: once",
			[][]gahpo.RungCorrelation{{rc(0, 5, 0.3)}, {rc(0, 5, 0.3)}, {rc(0, 5, 0.3)}, {rc(0, 5, 0.3)}},
			[]string{"[0:0.30:low]", "[]", "[]", "[]"}},
		{"small moves: once",
			[][]gahpo.RungCorrelation{{rc(0, 5, 0.3)}, {rc(0, 6, 0.45)}, {rc(0, 7, 0.15)}, {rc(0, 8, 0.31)}},
			[]string{"[0:0.30:low]", "[]", "[]", "[]"}},
		{"a material move: again",
			[][]gahpo.RungCorrelation{{rc(0, 5, 0.3)}, {rc(0, 6, 0.05)}, {rc(0, 7, 0.15)}, {rc(0, 8, -0.2)}},
			[]string{"[0:0.30:low]", "[0:0.05:low]", "[]", "[0:-0.20:low]"}},
		{"recovers, then low again",
			[][]gahpo.RungCorrelation{{rc(0, 5, 0.3)}, {rc(0, 6, 0.7)}, {rc(0, 7, 0.72)}, {rc(0, 8, 0.4)}},
			[]string{"[0:0.30:low]", "[0:0.70:ok]", "[]", "[0:0.40:low]"}},
		{"hovering about the threshold: once",
			[][]gahpo.RungCorrelation{{rc(0, 8, 0.45)}, {rc(0, 9, 0.52)}, {rc(0, 10, 0.47)}, {rc(0, 11, 0.58)}, {rc(0, 12, 0.46)}},
			[]string{"[0:0.45:low]", "[]", "[]", "[]", "[]"}},
		{"too few genomes: never low",
			[][]gahpo.RungCorrelation{{rc(0, 4, -1)}, {rc(0, 4, -1)}},
			[]string{"[]", "[]"}},
		{"rungs apart",
			[][]gahpo.RungCorrelation{{rc(0, 5, 0.2), rc(1, 5, 0.9)}, {rc(0, 6, 0.2), rc(1, 6, 0.3)}, {rc(0, 6, 0.2), rc(1, 6, 0.3)}},
			[]string{"[0:0.20:low]", "[1:0.30:low]", "[]"}},
	}
	for _, tt := range tests {
		warned := map[int]float64{}
		for i, proxy := range tt.steps {
			var got []string
			for _, a := range proxyAlerts(warned, proxy) {
				state := "ok"
				if a.Low {
					state = "low"
				}
				got = append(got, fmt.Sprintf("%d:%.2f:%s", a.Rung, float64(a.Spearman), state))
			}
			if s := fmt.Sprint(got); s != tt.want[i] && !(len(got) == 0 && tt.want[i] == "[]") {
				t.Errorf("%s, step %d: alerts %s, want %s", tt.name, i+1, s, tt.want[i])
			}
		}
	}
}
