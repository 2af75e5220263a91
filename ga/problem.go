package ga

import "math/rand/v2"

// Problem supplies the delegated pieces of a search. Genes are a []float64
// vector; an implementation must not modify its inputs, must return new
// slices, and must draw all its randomness from r. Fitness is computed
// elsewhere and told to the Engine.
type Problem interface {
	// Random returns a random genome.
	Random(r *rand.Rand) []float64
	// Mutate returns a mutated copy of genes and whether any gene changed.
	Mutate(r *rand.Rand, genes []float64) (child []float64, changed bool)
	// Crossover returns a child of a and b.
	Crossover(r *rand.Rand, a, b []float64) []float64
}

// Canonicalizer is optionally implemented by a Problem: Canonical returns the
// genes rounded to the problem's resolution. The engine issues canonical genes
// and detects duplicates on them, so Canonical must be idempotent.
type Canonicalizer interface {
	Canonical(genes []float64) []float64
}

// CrossoverNamer is optionally implemented by a Problem: CrossoverName names
// its crossover in a genome's Ops ("crossover:" + name); without it the op is
// "crossover".
type CrossoverNamer interface {
	CrossoverName() string
}

// Checker is optionally implemented by a Problem: the engine checks every
// genome it breeds or restores with it, and fails rather than issue genes
// that Check refuses. *Space implements it.
type Checker interface {
	Check(genes []float64) error
}

var _ Checker = (*Space)(nil)
