package main

import "syscall"

// maxRSSMB returns the process's peak resident set size in MiB, from
// getrusage's ru_maxrss (KiB on Linux), as the peer reports it.
func maxRSSMB() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Maxrss) / 1024, true
}
