package regression

import "github.com/gahpo/gahpo/ga"

// Space returns the problem's search space, with the ga package's default
// operators: ParamLR float in [1e-4, 1] on a log scale, ParamBatchSize int
// in [1, 64] and ParamEpochs int in [10, 300]. ConfigFromParams reads the
// map that (*ga.Space).ToMap makes of its genes. Each call returns a new
// Space, which the caller may adjust.
func Space() *ga.Space {
	s, err := ga.NewSpace(
		ga.FloatParam(ParamLR, 1e-4, 1.0, ga.Log),
		ga.IntParam(ParamBatchSize, 1, 64),
		ga.IntParam(ParamEpochs, 10, 300),
	)
	if err != nil {
		panic(err) // the literal above is valid; a failure is a bug in ga or here
	}
	return s
}
