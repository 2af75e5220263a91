package coordinator

import (
	"math"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/search"
)

// proxyShift is how far a low rung's Spearman correlation must move from
// the value last warned of to be warned of again: over the 5 to 30
// genomes of a typical run its standard error is 0.2 to 0.5, and a smaller
// move is mostly noise.
const proxyShift = 0.2

// proxyRecovered is how far above search.LowProxy a rung warned of must
// rise to be said to rank like full training again: one that hovers about
// the threshold would otherwise be warned of each time it dips.
const proxyRecovered = 0.1

// proxyAlert is what the proxy check tells the log about one rung.
type proxyAlert struct {
	gahpo.RungCorrelation
	Low bool // turned or stays low; false: no longer low
}

// proxyAlerts compares a run's proxy check with what was last said about
// it (warned: rung → the Spearman value last warned of, for the rungs
// that are low) and returns what to say now: a rung that turns low, a low
// one whose value moved by proxyShift or more since it was last warned of,
// and a low rung that rose proxyRecovered above the threshold. It updates
// warned. The proxy is
// updated on every result: warning on each would repeat one rung's
// verdict hundreds of times.
func proxyAlerts(warned map[int]float64, proxy []gahpo.RungCorrelation) []proxyAlert {
	var out []proxyAlert
	for _, p := range proxy {
		low := p.Genomes >= search.MinProxyGenomes && float64(p.Spearman) < search.LowProxy
		last, was := warned[p.Rung]
		switch {
		case low && (!was || math.Abs(float64(p.Spearman)-last) >= proxyShift):
			warned[p.Rung] = float64(p.Spearman)
			out = append(out, proxyAlert{p, true})
		case was && !low && float64(p.Spearman) >= search.LowProxy+proxyRecovered:
			delete(warned, p.Rung)
			out = append(out, proxyAlert{p, false})
		}
	}
	return out
}
