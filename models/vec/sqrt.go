package vec

import "math"

// sqrt is the square root in T's own precision (for float32, the compiler
// turns the conversions around math.Sqrt into one SQRTSS).
func sqrt[T float32 | float64](x T) T { return T(math.Sqrt(float64(x))) }
