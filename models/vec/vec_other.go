//go:build !amd64 || purego

package vec

func adadeltaFast(_, _, _, _ []float32, _ AdadeltaParams) (int, bool) { return 0, true }

func addFast(_, _ []float32) int { return 0 }

// Accelerated reports whether the assembly loops run on this CPU.
func Accelerated() bool { return false }

func mulFast(_, _, _ []float32) int { return 0 }

func poolGradFast(_, _, _, _, _, _, _, _, _ []float32, _ float32) int { return 0 }

func reluFast(_, _ []float32) (int, bool) { return 0, true }

func poolFast(_, _, _, _, _, _ []float32, _ float32) (int, bool) { return 0, true }

func reluGradFast(_, _, _ []float32) int { return 0 }

func transposeFast(_, _ []float32, _, _ int) bool { return false }
