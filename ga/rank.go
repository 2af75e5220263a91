package ga

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Finite reports whether f is a usable fitness: not NaN, not ±Inf.
func Finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Better reports whether fitness fa of genome ida ranks before fitness fb of
// genome idb. It is the one ranking rule of gahpo (the engine's selection,
// the coordinator's summaries and the queries all use it): finite fitnesses
// first, lower first; NaN, +Inf and -Inf (a failed or diverged evaluation)
// last, whatever their value; ties, and two non-finite fitnesses, broken by
// the lower id.
func Better(fa float64, ida int, fb float64, idb int) bool {
	oka, okb := Finite(fa), Finite(fb)
	if oka != okb {
		return oka
	}
	if oka && fa != fb {
		return fa < fb
	}
	return ida < idb
}

// Compare is Better as a three-way comparison for slices.SortFunc: -1 when
// (fa, ida) ranks first, +1 when (fb, idb) does, 0 only when the ids are
// equal and neither fitness ranks before the other.
func Compare(fa float64, ida int, fb float64, idb int) int {
	switch {
	case Better(fa, ida, fb, idb):
		return -1
	case Better(fb, idb, fa, ida):
		return 1
	}
	return 0
}

// JSONFloat is a float64 whose JSON form keeps NaN and ±Inf, which a failed or
// diverged evaluation has as its fitness: a finite value is a JSON number,
// NaN, +Inf and -Inf are the strings "NaN", "+Inf" and "-Inf" ("Inf" is read
// as +Inf too).
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *JSONFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("ga: bad float %s: %w", b, err)
		}
		switch s {
		case "NaN":
			*f = JSONFloat(math.NaN())
		case "+Inf", "Inf":
			*f = JSONFloat(math.Inf(1))
		case "-Inf":
			*f = JSONFloat(math.Inf(-1))
		default:
			return fmt.Errorf("ga: bad float %q", s)
		}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("ga: bad float %s: %w", b, err)
	}
	*f = JSONFloat(v)
	return nil
}
