package ga

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is returned (wrapped, with details) by Config.Validate.
var ErrInvalidConfig = errors.New("ga: invalid config")

// Config sets up a search. Fields are taken literally: a zero is a zero, not
// a default; start from DefaultConfig.
type Config struct {
	// Population is the number of genomes per generation, >= 2; default 30.
	Population int `json:"population"`
	// Generations is the number of generations, >= 1; default 28.
	Generations int `json:"generations"`
	// Elites is the number of best genomes (finite fitness, distinct genes)
	// carried unchanged into the next generation, in [0, Population); default 2.
	Elites int `json:"elites"`
	// TournamentSize is the number of genomes drawn (without replacement) per
	// tournament, in [1, Population]; default 3.
	TournamentSize int `json:"tournament_size"`
	// CrossoverRate is the probability that a child is a crossover of two
	// parents rather than a copy of one, in [0, 1]; default 0.9.
	CrossoverRate float64 `json:"crossover_rate"`
	// Seed is the source of all randomness of the run.
	Seed uint64 `json:"seed"`
	// Initial holds known genomes (genes in the Problem's encoding) that
	// start the first generation, before its random genomes; at most
	// Population of them.
	Initial [][]float64 `json:"initial,omitempty"`
}

// DefaultConfig returns the paper's settings (population 30, 28 generations)
// with 2 elites, tournaments of 3, crossover rate 0.9 and seed 0.
func DefaultConfig() Config {
	return Config{
		Population:     30,
		Generations:    28,
		Elites:         2,
		TournamentSize: 3,
		CrossoverRate:  0.9,
	}
}

// Validate reports every invalid field (joined), or nil. Errors wrap
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...)))
	}
	if c.Population < 2 {
		bad("population %d must be at least 2", c.Population)
	}
	if c.Generations < 1 {
		bad("generations %d must be at least 1", c.Generations)
	}
	if c.Elites < 0 {
		bad("elites %d must not be negative", c.Elites)
	} else if c.Elites >= c.Population {
		bad("elites %d must be fewer than the population %d", c.Elites, c.Population)
	}
	if c.TournamentSize < 1 {
		bad("tournament size %d must be at least 1", c.TournamentSize)
	} else if c.TournamentSize > c.Population {
		bad("tournament size %d is larger than the population %d", c.TournamentSize, c.Population)
	}
	if len(c.Initial) > c.Population && c.Population >= 2 {
		bad("%d initial genomes are more than the population %d", len(c.Initial), c.Population)
	}
	if !(c.CrossoverRate >= 0 && c.CrossoverRate <= 1) {
		bad("crossover rate %g outside [0, 1]", c.CrossoverRate)
	}
	return errors.Join(errs...)
}
