package vec

import "math"

// sqrt is the float32 square root (the compiler makes it one SQRTSS).
func sqrt(x float32) float32 { return float32(math.Sqrt(float64(x))) }
