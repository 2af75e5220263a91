package main

import (
	"syscall"
	"time"
)

// maxRSSMB returns the process's peak resident set size in MiB, from
// getrusage's ru_maxrss (KiB on Linux), as the peer reports it.
func maxRSSMB() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Maxrss) / 1024, true
}

// cpuTime returns the user and system CPU time the process has used, all
// threads together.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
