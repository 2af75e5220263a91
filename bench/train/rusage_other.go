//go:build !linux

package main

import "time"

// maxRSSMB reports no peak RSS outside Linux, where ru_maxrss's unit
// differs.
func maxRSSMB() (float64, bool) { return 0, false }

// cpuTime reports no CPU time outside Linux.
func cpuTime() (time.Duration, bool) { return 0, false }
