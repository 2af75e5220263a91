//go:build !linux

package main

// maxRSSMB reports no peak RSS outside Linux, where ru_maxrss's unit
// differs.
func maxRSSMB() (float64, bool) { return 0, false }
