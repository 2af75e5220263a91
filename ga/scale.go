package ga

import (
	"fmt"
	"math"
)

// Scale is the scale a float parameter is searched on: operators sample,
// blend and perturb the parameter's value after mapping it to this scale.
type Scale int

const (
	// Linear searches the value itself.
	Linear Scale = iota
	// Log searches the natural logarithm of the value; bounds must be > 0.
	Log
	// Logit searches log(p/(1-p)); bounds must lie in [0, 1] and are kept
	// away from 0 and 1 by a tiny epsilon (1e-9) inside the transform.
	Logit
)

var scaleNames = [...]string{Linear: "linear", Log: "log", Logit: "logit"}

// String returns "linear", "log" or "logit", or "Scale(n)" for an unknown value.
func (s Scale) String() string {
	if s >= 0 && int(s) < len(scaleNames) {
		return scaleNames[s]
	}
	return fmt.Sprintf("Scale(%d)", int(s))
}

// MarshalText encodes the scale as "linear", "log" or "logit".
func (s Scale) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(scaleNames) {
		return nil, fmt.Errorf("ga: unknown scale %d", int(s))
	}
	return []byte(scaleNames[s]), nil
}

// UnmarshalText decodes "linear", "log" or "logit".
func (s *Scale) UnmarshalText(b []byte) error {
	for i, n := range scaleNames {
		if string(b) == n {
			*s = Scale(i)
			return nil
		}
	}
	return fmt.Errorf("ga: unknown scale %q (want linear, log or logit)", b)
}

// Kind is the type of a parameter's values.
type Kind int

const (
	// Float parameters take any value in [Min, Max].
	Float Kind = iota
	// Int parameters take integer values in [Min, Max]; the bounds are integers.
	Int
	// Choice parameters take one of their Values; the gene is the value's
	// index (Min 0, Max len(Values)-1, linear scale). Crossover takes a
	// choice from either parent; mutation draws another value.
	Choice
)

var kindNames = [...]string{Float: "float", Int: "int", Choice: "choice"}

// String returns "float", "int" or "choice", or "Kind(n)" for an unknown value.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText encodes the kind as "float", "int" or "choice".
func (k Kind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("ga: unknown kind %d", int(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes "float", "int" or "choice".
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if string(b) == n {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("ga: unknown kind %q (want float, int or choice)", b)
}

// logitEps keeps logit-scale values away from 0 and 1 inside the transform.
const logitEps = 1e-9

// toScale maps a value in natural units to the parameter's own scale.
func (p Param) toScale(x float64) float64 {
	switch p.Scale {
	case Log:
		return math.Log(x)
	case Logit:
		x = min(max(x, logitEps), 1-logitEps)
		return math.Log(x / (1 - x))
	default:
		return x
	}
}

// fromScale maps a value of the parameter's own scale back to natural units.
func (p Param) fromScale(t float64) float64 {
	switch p.Scale {
	case Log:
		return math.Exp(t)
	case Logit:
		return 1 / (1 + math.Exp(-t))
	default:
		return t
	}
}

// scaleBounds returns the bounds in the parameter's own scale.
func (p Param) scaleBounds() (lo, hi float64) {
	return p.toScale(p.Min), p.toScale(p.Max)
}

// finish maps t back to natural units, rounds integers and clamps to bounds.
func (p Param) finish(t float64) float64 {
	x := p.fromScale(t)
	if p.Kind != Float {
		x = math.Round(x)
	}
	return p.clamp(x)
}

// clamp keeps x inside [Min, Max] and turns -0 into 0.
func (p Param) clamp(x float64) float64 {
	x = min(max(x, p.Min), p.Max)
	if x == 0 {
		return 0
	}
	return x
}

// mirror keeps t inside [lo, hi]: it mirrors t once at the bound it crossed,
// then clamps what is still outside.
func mirror(t, lo, hi float64) float64 {
	if t < lo {
		t = 2*lo - t
	} else if t > hi {
		t = 2*hi - t
	}
	return min(max(t, lo), hi)
}
