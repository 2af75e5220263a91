package ga

import "math/rand/v2"

// splitmix64 is the SplitMix64 finaliser: a bijective mixer of 64-bit words.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// TrainSeed returns the training seed of genome genomeID in the run seeded
// with runSeed: SplitMix64 of the mixed run seed xor the id. Distinct ids of
// one run get distinct seeds.
func TrainSeed(runSeed uint64, genomeID int) uint64 {
	return splitmix64(splitmix64(runSeed) ^ uint64(genomeID))
}

// breedRand returns the generator that breeds generation gen of the run
// seeded with seed: a PCG keyed by (seed, mixed gen), so the engine's state
// never needs to hold generator internals.
func breedRand(seed uint64, gen int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, splitmix64(uint64(gen)^0x6761687062726564)))
}
