package ga

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Errors returned (wrapped, with details) by validation.
var (
	// ErrInvalidSpace is returned by Space.Validate and NewSpace for a space
	// that cannot be searched.
	ErrInvalidSpace = errors.New("ga: invalid space")
	// ErrOutOfSpace is returned by Space.Check and Space.FromMap for genes
	// that do not belong to the space.
	ErrOutOfSpace = errors.New("ga: genes outside the space")
)

// maxExactInt is the largest magnitude of an integer bound (2^53): every
// integer up to it is exactly representable as a float64 gene.
const maxExactInt = 1 << 53

// Param is one named parameter of a Space.
type Param struct {
	Name  string  `json:"name"`
	Kind  Kind    `json:"kind"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Scale Scale   `json:"scale"`
	// Values are a Choice parameter's values, in gene (index) order.
	Values []string `json:"values,omitempty"`
}

// ChoiceParam returns a parameter that takes one of values; its gene is the
// value's index.
func ChoiceParam(name string, values ...string) Param {
	return Param{Name: name, Kind: Choice, Min: 0, Max: float64(len(values) - 1), Scale: Linear,
		Values: append([]string(nil), values...)}
}

// Label returns the value a gene stands for: the choice's string for a
// Choice parameter (the index as text when it is not one), an Int's digits
// (1000000, never 1e+06: a command's integer argument), the number
// formatted with %g otherwise.
func (p Param) Label(x float64) string {
	switch p.Kind {
	case Choice:
		if i, ok := p.index(x); ok {
			return p.Values[i]
		}
	case Int:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// Index returns the gene of a Choice parameter's value, and whether the
// parameter has that value.
func (p Param) Index(value string) (float64, bool) {
	if p.Kind != Choice {
		return 0, false
	}
	for i, v := range p.Values {
		if v == value {
			return float64(i), true
		}
	}
	return 0, false
}

// index returns x as an index into Values when it is one.
func (p Param) index(x float64) (int, bool) {
	if x != math.Trunc(x) || x < 0 || x >= float64(len(p.Values)) {
		return 0, false
	}
	return int(x), true
}

// IntParam returns an integer parameter in [min, max] on a linear scale. Set
// Scale to Log on the result for a log-uniform integer (min must be >= 1).
func IntParam(name string, min, max int) Param {
	return Param{Name: name, Kind: Int, Min: float64(min), Max: float64(max), Scale: Linear}
}

// FloatParam returns a float parameter in [min, max] searched on scale.
func FloatParam(name string, min, max float64, scale Scale) Param {
	return Param{Name: name, Kind: Float, Min: min, Max: max, Scale: scale}
}

// Validate reports why the parameter cannot be searched, or nil.
func (p Param) Validate() error {
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: parameter %q: %s", ErrInvalidSpace, name, fmt.Sprintf(format, a...))
	}
	if p.Name != "" && p.Kind == Choice {
		return p.validateChoice(bad)
	}
	switch {
	case p.Name == "":
		return bad("empty name")
	case p.Kind != Float && p.Kind != Int && p.Kind != Choice:
		return bad("unknown kind %d", int(p.Kind))
	case p.Scale != Linear && p.Scale != Log && p.Scale != Logit:
		return bad("unknown scale %d", int(p.Scale))
	case math.IsNaN(p.Min) || math.IsNaN(p.Max):
		return bad("NaN bound in [%g, %g]", p.Min, p.Max)
	case math.IsInf(p.Min, 0) || math.IsInf(p.Max, 0):
		return bad("infinite bound in [%g, %g]", p.Min, p.Max)
	case p.Min > p.Max:
		return bad("inverted bounds: min %g > max %g", p.Min, p.Max)
	case math.IsInf(p.Max-p.Min, 0):
		return bad("range [%g, %g] overflows a float64", p.Min, p.Max)
	}
	if len(p.Values) > 0 {
		return bad("values are for a choice, not a %s", p.Kind)
	}
	if p.Kind == Int {
		switch {
		case p.Min != math.Trunc(p.Min) || p.Max != math.Trunc(p.Max):
			return bad("int bounds [%g, %g] are not integers", p.Min, p.Max)
		case math.Abs(p.Min) > maxExactInt || math.Abs(p.Max) > maxExactInt:
			return bad("int bounds [%g, %g] exceed ±2^53", p.Min, p.Max)
		case p.Scale == Logit:
			return bad("an int cannot use the logit scale")
		case p.Scale == Log && p.Min < 1:
			return bad("a log-scale int needs min >= 1, got %g", p.Min)
		}
	}
	switch p.Scale {
	case Log:
		if p.Min <= 0 {
			return bad("log scale needs min > 0, got %g", p.Min)
		}
	case Logit:
		if p.Min < 0 || p.Max > 1 {
			return bad("logit scale needs bounds in [0, 1], got [%g, %g]", p.Min, p.Max)
		}
	}
	return nil
}

func (p Param) validateChoice(bad func(string, ...any) error) error {
	if len(p.Values) == 0 {
		return bad("a choice needs at least one value")
	}
	seen := make(map[string]bool, len(p.Values))
	for _, v := range p.Values {
		if seen[v] {
			return bad("value %q appears twice", v)
		}
		seen[v] = true
	}
	switch {
	case p.Scale != Linear:
		return bad("a choice has no scale (got %s)", p.Scale)
	case p.Min != 0 || p.Max != float64(len(p.Values)-1):
		return bad("a choice's bounds are its indices [0, %d], got [%g, %g]", len(p.Values)-1, p.Min, p.Max)
	}
	return nil
}

// CrossoverKind selects the crossover a Space applies.
type CrossoverKind int

const (
	// BLX is blend crossover (BLX-alpha): each gene is drawn uniformly from the
	// parents' interval widened by alpha times its length on each side, in the
	// parameter's own scale. It is the zero value and the default.
	BLX CrossoverKind = iota
	// SBX is simulated binary crossover with distribution index eta, in the
	// parameter's own scale.
	SBX
	// Uniform takes each gene from either parent with probability 1/2.
	Uniform
)

var crossoverNames = [...]string{BLX: "blx", SBX: "sbx", Uniform: "uniform"}

// String returns "blx", "sbx" or "uniform", or "CrossoverKind(n)".
func (c CrossoverKind) String() string {
	if c >= 0 && int(c) < len(crossoverNames) {
		return crossoverNames[c]
	}
	return fmt.Sprintf("CrossoverKind(%d)", int(c))
}

// MarshalText encodes the kind as "blx", "sbx" or "uniform".
func (c CrossoverKind) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(crossoverNames) {
		return nil, fmt.Errorf("ga: unknown crossover kind %d", int(c))
	}
	return []byte(crossoverNames[c]), nil
}

// UnmarshalText decodes "blx", "sbx" or "uniform".
func (c *CrossoverKind) UnmarshalText(b []byte) error {
	for i, n := range crossoverNames {
		if string(b) == n {
			*c = CrossoverKind(i)
			return nil
		}
	}
	return fmt.Errorf("ga: unknown crossover kind %q (want blx, sbx or uniform)", b)
}

// Space is a typed search space of named parameters; *Space implements
// Problem, Canonicalizer and CrossoverNamer. Genes are the parameters' values
// in natural units, in the order of Params. Fields are taken literally by
// Validate; NewSpace fills the documented defaults.
type Space struct {
	// Params are the parameters, in gene order; names are unique.
	Params []Param `json:"params"`
	// CrossoverKind is the crossover operator; NewSpace default BLX. (The
	// field cannot be named Crossover: that is the Problem method.)
	CrossoverKind CrossoverKind `json:"crossover"`
	// BLXAlpha widens the BLX interval on each side; >= 0, default 0.5.
	BLXAlpha float64 `json:"blx_alpha"`
	// SBXEta is the SBX distribution index (larger: children nearer their
	// parents); >= 0, default 15.
	SBXEta float64 `json:"sbx_eta"`
	// MutationRate is the per-gene probability of a Gaussian mutation, in
	// [0, 1]; default 1/len(Params) (one gene mutated per genome on average).
	MutationRate float64 `json:"mutation_rate"`
	// MutationSigma is the Gaussian standard deviation as a fraction of the
	// parameter's range in its own scale; >= 0, default 0.1.
	MutationSigma float64 `json:"mutation_sigma"`
}

// Compile-time checks that *Space implements the optional interfaces.
var (
	_ Problem        = (*Space)(nil)
	_ Canonicalizer  = (*Space)(nil)
	_ CrossoverNamer = (*Space)(nil)
)

// Default operator settings that NewSpace applies.
const (
	DefaultBLXAlpha      = 0.5
	DefaultSBXEta        = 15
	DefaultMutationSigma = 0.1
)

// NewSpace returns a validated space over params with the default operators:
// BLX crossover with alpha 0.5, SBX eta 15 (used if CrossoverKind is switched to
// SBX), mutation rate 1/len(params) and mutation sigma 0.1.
func NewSpace(params ...Param) (*Space, error) {
	s := &Space{
		Params:        append([]Param(nil), params...),
		CrossoverKind: BLX,
		BLXAlpha:      DefaultBLXAlpha,
		SBXEta:        DefaultSBXEta,
		MutationSigma: DefaultMutationSigma,
	}
	if len(params) > 0 {
		s.MutationRate = 1 / float64(len(params))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate reports every reason the space cannot be searched (joined), or nil.
// Errors wrap ErrInvalidSpace.
func (s *Space) Validate() error {
	if len(s.Params) == 0 {
		return fmt.Errorf("%w: no parameters", ErrInvalidSpace)
	}
	var errs []error
	seen := make(map[string]bool, len(s.Params))
	for _, p := range s.Params {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
		if p.Name != "" && seen[p.Name] {
			errs = append(errs, fmt.Errorf("%w: parameter %q appears twice", ErrInvalidSpace, p.Name))
		}
		seen[p.Name] = true
	}
	if s.CrossoverKind < 0 || int(s.CrossoverKind) >= len(crossoverNames) {
		errs = append(errs, fmt.Errorf("%w: unknown crossover kind %d", ErrInvalidSpace, int(s.CrossoverKind)))
	}
	nonNeg := func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s %g must be finite and >= 0", ErrInvalidSpace, name, v))
		}
	}
	nonNeg("blx alpha", s.BLXAlpha)
	nonNeg("sbx eta", s.SBXEta)
	nonNeg("mutation sigma", s.MutationSigma)
	if !(s.MutationRate >= 0 && s.MutationRate <= 1) {
		errs = append(errs, fmt.Errorf("%w: mutation rate %g outside [0, 1]", ErrInvalidSpace, s.MutationRate))
	}
	return errors.Join(errs...)
}

// Without returns a copy of s without the parameter named name, with the
// same operators; a mutation rate that was NewSpace's default (one gene a
// genome on average) stays the default for the fewer parameters. A
// multi-fidelity run uses it to leave out a problem's epochs gene, which
// its rungs decide. It fails for an unknown name or the last parameter.
func (s *Space) Without(name string) (*Space, error) {
	i := slices.IndexFunc(s.Params, func(p Param) bool { return p.Name == name })
	switch {
	case i < 0:
		return nil, fmt.Errorf("%w: no parameter %q to leave out (parameters: %v)", ErrInvalidSpace, name, s.Names())
	case len(s.Params) == 1:
		return nil, fmt.Errorf("%w: %q is the only parameter", ErrInvalidSpace, name)
	}
	c := *s
	c.Params = slices.Delete(slices.Clone(s.Params), i, i+1)
	if s.MutationRate == 1/float64(len(s.Params)) {
		c.MutationRate = 1 / float64(len(c.Params))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Names returns the parameter names in gene order.
func (s *Space) Names() []string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return names
}

// Values returns the genes keyed by parameter name, as a person reads them:
// a Choice parameter's value as its string, a number as a float64. Genes
// beyond len(Params) are ignored; missing ones are left out.
func (s *Space) Values(genes []float64) map[string]any {
	m := make(map[string]any, len(s.Params))
	for i, p := range s.Params {
		if i >= len(genes) {
			break
		}
		if _, ok := p.index(genes[i]); ok && p.Kind == Choice {
			m[p.Name] = p.Label(genes[i])
		} else {
			m[p.Name] = genes[i]
		}
	}
	return m
}

// Readable returns a genome's map form (ToMap's, as records and tasks hold
// it) as a person reads it: a Choice parameter's index as its string, any
// other value as it is, names the space does not know included. It never
// fails: an index that is not one of the choice's is left a number.
func (s *Space) Readable(params map[string]float64) map[string]any {
	m := make(map[string]any, len(params))
	for name, v := range params {
		m[name] = v
	}
	for _, p := range s.Params {
		if v, ok := params[p.Name]; ok && p.Kind == Choice {
			if _, ok := p.index(v); ok {
				m[p.Name] = p.Values[int(v)]
			}
		}
	}
	return m
}

// FromValues is the inverse of Values: it accepts a choice's value as its
// string (or as its index) and a number as any JSON number type, and fails
// like FromMap.
func (s *Space) FromValues(m map[string]any) ([]float64, error) {
	nums := make(map[string]float64, len(m))
	var errs []error
	for name, v := range m {
		switch v := v.(type) {
		case string:
			p, ok := s.Param(name)
			if !ok {
				nums[name] = 0 // FromMap names it unknown
				continue
			}
			x, ok := p.Index(v)
			if !ok {
				errs = append(errs, fmt.Errorf("%w: parameter %q: %q is not one of %q", ErrOutOfSpace, name, v, p.Values))
				continue
			}
			nums[name] = x
		case float64:
			nums[name] = v
		case float32:
			nums[name] = float64(v)
		case int:
			nums[name] = float64(v)
		case int64:
			nums[name] = float64(v)
		default:
			errs = append(errs, fmt.Errorf("%w: parameter %q: value %v of type %T", ErrOutOfSpace, name, v, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s.FromMap(nums)
}

// Param returns the parameter named name.
func (s *Space) Param(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// ToMap returns the genes keyed by parameter name. Genes beyond len(Params)
// are ignored; missing ones are left out.
func (s *Space) ToMap(genes []float64) map[string]float64 {
	m := make(map[string]float64, len(s.Params))
	for i, p := range s.Params {
		if i < len(genes) {
			m[p.Name] = genes[i]
		}
	}
	return m
}

// FromMap returns the genes for a map keyed by parameter name. It fails on a
// missing or unknown name and on values that Check refuses.
func (s *Space) FromMap(m map[string]float64) ([]float64, error) {
	var errs []error
	var missing []string
	genes := make([]float64, len(s.Params))
	known := make(map[string]bool, len(s.Params))
	for i, p := range s.Params {
		known[p.Name] = true
		v, ok := m[p.Name]
		if !ok {
			missing = append(missing, strconv.Quote(p.Name))
			continue
		}
		genes[i] = v
	}
	switch {
	case len(missing) == 1:
		errs = append(errs, fmt.Errorf("%w: parameter %s missing", ErrOutOfSpace, missing[0]))
	case len(missing) > 1:
		errs = append(errs, fmt.Errorf("%w: parameters %s missing", ErrOutOfSpace, strings.Join(missing, ", ")))
	}
	for name := range m {
		if !known[name] {
			errs = append(errs, fmt.Errorf("%w: unknown parameter %q", ErrOutOfSpace, name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := s.Check(genes); err != nil {
		return nil, err
	}
	return genes, nil
}

// Check reports every gene that does not belong to the space (wrong length,
// NaN or infinite, out of range, non-integer int), naming the parameter.
// Errors wrap ErrOutOfSpace.
func (s *Space) Check(genes []float64) error {
	if len(genes) != len(s.Params) {
		return fmt.Errorf("%w: %d genes, want %d (%v)", ErrOutOfSpace, len(genes), len(s.Params), s.Names())
	}
	var errs []error
	for i, p := range s.Params {
		x := genes[i]
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			errs = append(errs, fmt.Errorf("%w: parameter %q: value %g", ErrOutOfSpace, p.Name, x))
		case x < p.Min || x > p.Max:
			errs = append(errs, fmt.Errorf("%w: parameter %q: %g outside [%g, %g]", ErrOutOfSpace, p.Name, x, p.Min, p.Max))
		case p.Kind != Float && x != math.Trunc(x):
			errs = append(errs, fmt.Errorf("%w: parameter %q: %g is not an integer", ErrOutOfSpace, p.Name, x))
		}
	}
	return errors.Join(errs...)
}

// Normalize maps genes to [0, 1] in each parameter's own scale (0 at Min, 1 at
// Max; 0 for a parameter with Min == Max). Genes are assumed to pass Check.
func (s *Space) Normalize(genes []float64) []float64 {
	s.mustLen(genes)
	z := make([]float64, len(genes))
	for i, p := range s.Params {
		lo, hi := p.scaleBounds()
		if hi > lo {
			z[i] = min(max((p.toScale(genes[i])-lo)/(hi-lo), 0), 1)
		}
	}
	return z
}

// Canonical returns the genes rounded to the space's resolution, inside the
// bounds: ints to the nearest integer; linear floats to about 6 significant
// digits of their range (a decimal step of 10^(floor(log10(max-min))-6));
// log floats to 6 significant digits; logit floats to 6 significant digits of
// p or of 1-p, whichever is smaller, with p kept in [1e-9, 1-1e-9]. Canonical
// is idempotent. It does not modify genes.
func (s *Space) Canonical(genes []float64) []float64 {
	s.mustLen(genes)
	c := make([]float64, len(genes))
	for i, p := range s.Params {
		c[i] = p.canonical(genes[i])
	}
	return c
}

func (p Param) canonical(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x // Check reports it; rounding cannot help
	}
	if p.Kind != Float {
		return p.clamp(math.Round(x))
	}
	switch p.Scale {
	case Log:
		x = roundSig(x, 6)
	case Logit:
		lo, hi := max(p.Min, logitEps), min(p.Max, 1-logitEps)
		x = min(max(x, lo), hi)
		if x <= 0.5 {
			x = roundSig(x, 6)
		} else {
			x = 1 - roundSig(1-x, 6)
		}
		x = min(max(x, lo), hi)
	default:
		r := p.Max - p.Min
		if r == 0 {
			return p.Min
		}
		d := 6 - int(math.Floor(math.Log10(r)))
		if d > 0 {
			x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'f', d, 64), 64)
		} else {
			step := math.Pow(10, float64(-d))
			x = math.Round(x/step) * step
		}
	}
	return p.clamp(x)
}

// roundSig rounds x to n significant decimal digits.
func roundSig(x float64, n int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', n, 64), 64)
	return v
}

func (s *Space) mustLen(genes []float64) {
	if len(genes) != len(s.Params) {
		panic(fmt.Sprintf("ga: %d genes for a space of %d parameters", len(genes), len(s.Params)))
	}
}
