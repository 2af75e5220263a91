//go:build !amd64 || purego

package gemm

// availableKernels lists the micro-kernels this CPU can run: none outside
// amd64 (or with the purego build tag), where Sgemm is gonum's.
func availableKernels() []*family { return nil }

// sfence is not needed without assembly.
func sfence() {}
