//go:build !linux

package command

import "time"

// Guard is called first in main by a binary whose trainers run commands.
// Outside Linux there is no guard: commands run directly.
func Guard() {}

func guarded([]string, time.Duration) (string, []string, []string, bool) { return "", nil, nil, false }
