package main_test

import (
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gahpo/gahpo/internal/testnats"
)

// TestRunFollowHintAnswers: the command gahpo run gives to follow the run
// from another terminal answers as soon as it is printed, not "no running
// coordinator" while the coordinator starts.
func TestRunFollowHintAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("the binary, followed from another process: -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := t.TempDir() + "/h.db"
	cmd := command(ctx, "", "run", "--problem", "regression", "--population", "50", "--generations", "40", "--db", db, "--no-progress")
	var stderr testnats.LogBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}()
	hint := regexp.MustCompile(`follow it from another terminal: gahpo status --nats (nats://\S+) `)
	var m []string
	for m = hint.FindStringSubmatch(stderr.String()); m == nil; m = hint.FindStringSubmatch(stderr.String()) {
		if ctx.Err() != nil {
			t.Fatalf("gahpo run gives no command to follow it:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, errOut, err := gahpo(t, "status", "--nats", m[1])
	if err != nil || !strings.Contains(out, "run ") {
		t.Errorf("gahpo status --nats %s, as soon as gahpo run says it: %v\n%s%s\ngahpo run said:\n%s", m[1], err, out, errOut, stderr.String())
	}
}
