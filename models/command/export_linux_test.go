//go:build linux

package command

// SetGuard switches the guard on or off for a test.
func SetGuard(on bool) { guardInstalled = on }
