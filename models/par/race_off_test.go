//go:build !race

package par

// raceEnabled tells tests that the race detector instruments this build.
const raceEnabled = false
