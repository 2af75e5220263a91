package main_test

import (
	"strings"
	"testing"
)

// A bad --gpus list is refused at start with one line naming the flag.
func TestWorkerRefusesBadGPUs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary, built only without -short")
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--gpus", "0,,1"}, "an empty device id"},
		{[]string{"--gpus", "0,1,0"}, "device 0 listed twice"},
		{[]string{"--gpus", "0;1"}, `device id "0;1"`},
		{[]string{"--gpus", "0,1", "--concurrency", "3"}, "one task runs per device"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, err := gahpo(t, append([]string{"worker", "--nats", "nats://127.0.0.1:1"}, tt.args...)...)
			if err == nil || !strings.Contains(stderr, "--gpus") || !strings.Contains(stderr, tt.want) {
				t.Errorf("err %v, stderr %q; want a failure naming --gpus and %q", err, stderr, tt.want)
			}
		})
	}
}
