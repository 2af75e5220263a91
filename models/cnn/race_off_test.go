//go:build !race

package cnn

// raceEnabled tells tests that the race detector instruments this build.
const raceEnabled = false
