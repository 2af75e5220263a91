//go:build race

package par

// raceEnabled tells tests that the race detector instruments this build
// (it allocates on its own, so allocation counts mean nothing).
const raceEnabled = true
