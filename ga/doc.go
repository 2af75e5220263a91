// Package ga is a problem-agnostic genetic engine driven by ask/tell.
//
// The engine proposes the genomes of a generation and is told their fitness;
// it never evaluates anything itself, so evaluations can run anywhere, in any
// order, and some may never come back (they are told as failures). The package
// imports only the standard library.
//
// # Problems and spaces
//
// A [Problem] supplies the delegated pieces of the search: a random genome, a
// mutation and a crossover over a []float64 gene vector. Fitness is computed
// elsewhere and told to the engine. A Problem may also implement
// [Canonicalizer] (rounding genes to the problem's resolution, used to detect
// duplicates) and [CrossoverNamer].
//
// [Space] is the ready implementation for a typed search space of named
// parameters: integer ranges, float ranges on a [Linear], [Log] or [Logit]
// scale, and choices among named values ([ChoiceParam]). Every operator works
// in each parameter's own scale (log10 of a learning rate, logit of a
// probability) and keeps genes inside their bounds; integer genes stay
// integers; a choice's gene is its value's index, which
// crossover takes from either parent and mutation replaces by another.
// [Space.Values] shows a genome with each choice as its string. The engine
// knows no problem: each problem brings its own space (models/problems).
//
// # The engine
//
// [New] validates a [Config] and breeds generation 0 at once. The caller asks
// [Engine.Pending] for the genomes to evaluate and reports each fitness with
// [Engine.Tell]; the Tell that completes a generation breeds the next one.
// Fitness is minimised; NaN, ±Inf and failed evaluations (told as +Inf) rank
// last. Breeding uses tournament selection, elitism, crossover and mutation.
// Every [Genome] records its lineage: id, generation, parents and operators.
//
// A bred genome whose canonical genes equal those of a genome already sent in
// the run is not sent again: it is marked [Genome.DuplicateOf] and reuses the
// original's fitness. Elites are such duplicates, so they are never retrained.
//
// # Determinism and checkpoints
//
// All randomness comes from [Config.Seed]: generation g is bred from a PCG
// seeded with (seed, g) and from the fitness values of generation g-1 in id
// order, never from the order in which the results arrived. The engine's
// state is versioned JSON ([Engine.MarshalJSON], [Restore]); a restored engine,
// even one saved mid-generation, breeds what the original would have. A
// caller that keeps the genomes and their fitness in its own records saves
// only the engine's head ([Engine.MarshalHead], a few hundred bytes however
// long the run) and gives the genomes back to [RestoreWith].
// [TrainSeed] derives a per-genome training seed from the run seed and the
// genome id.
//
// Determinism holds for one build on one architecture. Go may fuse
// floating-point multiply-adds on some architectures (arm64, ppc64, s390x) and
// uses assembly for some math functions, so a checkpoint resumed on another
// architecture may breed genomes that differ in their last bits (usually
// hidden by canonical rounding, but not guaranteed).
package ga
