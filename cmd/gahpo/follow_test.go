package main_test

import (
	"bufio"
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
)

// TestRunFollowHintAnswers: the command gahpo run gives to follow the run
// from another terminal answers as soon as it is printed, not "no running
// coordinator" while the coordinator starts: a client asks the moment the
// line comes, then the command itself.
func TestRunFollowHintAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("the binary, followed from another process: -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := t.TempDir() + "/h.db"
	cmd := command(ctx, "", "run", "--problem", "regression", "--population", "50", "--generations", "40", "--db", db, "--no-progress")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		<-drained
		cmd.Wait()
	}()
	hint := regexp.MustCompile(`follow it from another terminal: gahpo status --nats (nats://\S+) `)
	var said strings.Builder
	var url string
	sc := bufio.NewScanner(stderr)
	for url == "" && sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if m := hint.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	go func() { // what the run says next must not fill the pipe
		defer close(drained)
		for sc.Scan() {
		}
	}()
	if url == "" {
		t.Fatalf("gahpo run gives no command to follow it:\n%s", said.String())
	}
	conn, err := bus.Connect(ctx, bus.Options{URL: url, Name: "follow-test"})
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := conn.Discover(ctx)
	conn.Close()
	if err != nil || len(svcs) != 1 {
		t.Errorf("coordinators answering on %s as soon as gahpo run says to follow it: %v, %v\n%s", url, svcs, err, said.String())
	}
	out, errOut, err := gahpo(t, "status", "--nats", url)
	if err != nil || !strings.Contains(out, "(regression): running") {
		t.Errorf("gahpo status --nats %s: %v\n%s%s\ngahpo run said:\n%s", url, err, out, errOut, said.String())
	}
}
