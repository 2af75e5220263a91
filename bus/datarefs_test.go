package bus_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

// writeData writes a data file of n bytes of b under dir/name.
func writeData(t *testing.T, dir, name string, b byte, n int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, bytes.Repeat([]byte{b}, n), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A data object two runs use stays until the second releases it; then it
// and its chunks go. One put without a mark (by a coordinator before the
// marks) is never deleted.
func TestReleaseData(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	shared := writeData(t, dir, "train.csv", 'a', 300<<10) // 3 chunks
	old := writeData(t, t.TempDir(), "test.csv", 'b', 1000)

	refA, err := c.PutRunData(ctx, shared, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	refB, err := c.PutRunData(ctx, shared, "run-b")
	if err != nil || refB != refA {
		t.Fatalf("run b's put: %+v, %v; want run a's object %+v", refB, err, refA)
	}
	oldRef, err := c.PutData(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	chunks := func() uint64 { return dataChunks(t, ctx, srv) }
	if n := chunks(); n != 4 {
		t.Fatalf("%d chunks stored, want 4 (3 of the shared file, 1 of the other)", n)
	}

	for _, tt := range []struct {
		run            string
		deleted        int
		sharedReadable bool
	}{
		{"run-a", 0, true},  // run b still marks it
		{"run-a", 0, true},  // released already: nothing
		{"run-c", 0, true},  // never marked it
		{"run-b", 1, false}, // the last mark: deleted
		{"run-b", 0, false},
	} {
		n, err := c.ReleaseData(ctx, tt.run)
		if err != nil || n != tt.deleted {
			t.Errorf("ReleaseData(%s) = %d, %v; want %d deleted", tt.run, n, err, tt.deleted)
		}
		_, err = c.GetBytes(ctx, bus.BucketData, refA.Name, refA.Digest)
		if got := err == nil; got != tt.sharedReadable {
			t.Errorf("after ReleaseData(%s): the shared object readable %v (%v), want %v", tt.run, got, err, tt.sharedReadable)
		}
	}
	if !bus.IsNotFound(func() error { _, err := c.GetBytes(ctx, bus.BucketData, refA.Name, ""); return err }()) {
		t.Error("the released object: not reported as not found")
	}
	if n := chunks(); n != 1 {
		t.Errorf("%d chunks left, want 1 (the unmarked file's)", n)
	}
	if got, err := c.GetBytes(ctx, bus.BucketData, oldRef.Name, oldRef.Digest); err != nil || len(got) != 1000 {
		t.Errorf("the object put without a mark: %d bytes, %v", len(got), err)
	}
	// A run that comes after puts it again.
	if _, err := c.PutRunData(ctx, shared, "run-d"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetBytes(ctx, bus.BucketData, refA.Name, refA.Digest); err != nil || len(got) != 300<<10 {
		t.Errorf("put again by a later run: %d bytes, %v", len(got), err)
	}
}

// Runs that start and end at the same time on one data file: while a run
// holds its mark (from its put to its release), the object is there,
// whatever the other runs' releases do (the compare-and-set writes retry;
// TestReleaseDataLosesNoMarkWrittenInBetween makes the conflict happen).
func TestReleaseDataConcurrentRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 240 puts and releases")
	}
	srv := testnats.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := writeData(t, t.TempDir(), "train.csv", 'x', 10<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		c := testnats.Connect(t, srv, fmt.Sprintf("w%d", w))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				run := fmt.Sprintf("run-%d-%d", w, i)
				ref, err := c.PutRunData(ctx, path, run)
				if err != nil {
					errs <- fmt.Errorf("%s: put: %w", run, err)
					return
				}
				if _, err := c.GetBytes(ctx, bus.BucketData, ref.Name, ref.Digest); err != nil {
					errs <- fmt.Errorf("%s: its data gone while it holds its mark: %w", run, err)
					return
				}
				if _, err := c.ReleaseData(ctx, run); err != nil {
					errs <- fmt.Errorf("%s: release: %w", run, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A run marks the object while the last other run's release is between
// reading the object's meta and writing its deletion: the deletion is
// refused, the release reads again, and the object stays for the run.
// (Written blindly, the deletion lands and the run loses its data.)
func TestReleaseDataLosesNoMarkWrittenInBetween(t *testing.T) {
	srv := testnats.Start(t)
	a, b := testnats.Connect(t, srv, "a"), testnats.Connect(t, srv, "b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := writeData(t, t.TempDir(), "train.csv", 'x', 10<<10)
	ref, err := a.PutRunData(ctx, path, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	var markErr error
	undo := bus.OnceBeforeMetaWrite(func() {
		_, markErr = b.PutRunData(ctx, path, "run-b")
	})
	defer undo()
	n, err := a.ReleaseData(ctx, "run-a")
	if err != nil || markErr != nil {
		t.Fatalf("release: %v; the mark in between: %v", err, markErr)
	}
	if n != 0 {
		t.Errorf("ReleaseData(run-a) deleted %d objects: run b marked the only one", n)
	}
	if _, err := b.GetBytes(ctx, bus.BucketData, ref.Name, ref.Digest); err != nil {
		t.Fatalf("run b's data after run a's release: %v", err)
	}
	if n, err := b.ReleaseData(ctx, "run-b"); n != 1 || err != nil {
		t.Errorf("ReleaseData(run-b) = %d, %v; want the object deleted", n, err)
	}
}

// The last other run releases (and deletes) the object while a run is
// between reading the object's meta and writing its mark: the mark is
// refused, the run reads the deletion, and puts the object again.
func TestPutRunDataPutsAgainWhatWentBeforeItsMark(t *testing.T) {
	srv := testnats.Start(t)
	a, b := testnats.Connect(t, srv, "a"), testnats.Connect(t, srv, "b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := writeData(t, t.TempDir(), "train.csv", 'x', 300<<10)
	if _, err := b.PutRunData(ctx, path, "run-b"); err != nil {
		t.Fatal(err)
	}
	var deleted int
	var relErr error
	undo := bus.OnceBeforeMetaWrite(func() {
		deleted, relErr = b.ReleaseData(ctx, "run-b")
	})
	defer undo()
	ref, err := a.PutRunData(ctx, path, "run-a")
	if err != nil || relErr != nil || deleted != 1 {
		t.Fatalf("put: %v; the release in between: %d deleted, %v (want 1)", err, deleted, relErr)
	}
	if got, err := a.GetBytes(ctx, bus.BucketData, ref.Name, ref.Digest); err != nil || len(got) != 300<<10 {
		t.Fatalf("run a's data after its put: %d bytes, %v", len(got), err)
	}
	if n, err := a.ReleaseData(ctx, "run-a"); n != 1 || err != nil {
		t.Errorf("ReleaseData(run-a) = %d, %v; want the object, marked, deleted", n, err)
	}
	if n := dataChunks(t, ctx, srv); n != 0 {
		t.Errorf("%d chunks left after both releases, want 0", n)
	}
}

// Two runs put the same missing object at once: the second's whole put
// comes between the first's upload and its meta write. The first's write
// is refused, its chunks purged, and it marks the second's object: both
// marks stay, and no chunk is left over. (nats.go's Put, which writes its
// meta unconditionally, wiped the second run's mark: the first run's
// release then deleted the data the second still used.)
func TestPutRunDataConcurrentUploads(t *testing.T) {
	srv := testnats.Start(t)
	a, b := testnats.Connect(t, srv, "a"), testnats.Connect(t, srv, "b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := writeData(t, t.TempDir(), "train.csv", 'x', 300<<10) // 3 chunks
	var putErr error
	undo := bus.OnceBeforeMetaWrite(func() {
		_, putErr = b.PutRunData(ctx, path, "run-b")
	})
	defer undo()
	ref, err := a.PutRunData(ctx, path, "run-a")
	if err != nil || putErr != nil {
		t.Fatalf("put: %v; the put in between: %v", err, putErr)
	}
	if n := dataChunks(t, ctx, srv); n != 3 {
		t.Errorf("%d chunks stored, want 3 (one upload's)", n)
	}
	if n, err := a.ReleaseData(ctx, "run-a"); n != 0 || err != nil {
		t.Errorf("ReleaseData(run-a) = %d, %v; want nothing deleted: run b marked the object", n, err)
	}
	if got, err := b.GetBytes(ctx, bus.BucketData, ref.Name, ref.Digest); err != nil || len(got) != 300<<10 {
		t.Fatalf("run b's data after run a's release: %d bytes, %v", len(got), err)
	}
	if n, err := b.ReleaseData(ctx, "run-b"); n != 1 || err != nil {
		t.Errorf("ReleaseData(run-b) = %d, %v; want the object deleted", n, err)
	}
}

// dataChunks counts the chunk messages in the data bucket's stream.
func dataChunks(t *testing.T, ctx context.Context, srv *natsserver.Server) uint64 {
	t.Helper()
	return dataChunksAs(t, ctx, srv, "", "")
}

// dataChunksAs is dataChunks for a server with users.
func dataChunksAs(t *testing.T, ctx context.Context, srv *natsserver.Server, user, password string) uint64 {
	t.Helper()
	s, err := rawJetStream(t, srv, user, password).Stream(ctx, "OBJ_"+bus.BucketData)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("$O."+bus.BucketData+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, k := range info.State.Subjects {
		n += k
	}
	return n
}

// TestDataMarksReadTheLeader runs a put and the releases as a user who may
// not make a direct get of the object's meta, which any replica of a stream
// may answer with what it has applied so far: the marks are read from the
// stream's leader, or a release could read a follower's meta without its
// mark, write nothing, and leave the object for good. A direct get of the
// meta refused here fails the test (nats.go's listing makes one of its
// own, of every meta subject at once, which stays allowed).
func TestDataMarksReadTheLeader(t *testing.T) {
	path := writeData(t, t.TempDir(), "train.csv", 'a', 200<<10)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name, err := bus.DataObjectName(bus.Digest(data), "train.csv")
	if err != nil {
		t.Fatal(err)
	}
	meta := "$O." + bus.BucketData + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
	users := filepath.Join(t.TempDir(), "auth.conf")
	if err := os.WriteFile(users, []byte(`authorization {
  users = [
    {user: leader, password: l-secret, permissions: {
      publish: {allow: [">"], deny: ["$JS.API.DIRECT.GET.OBJ_`+bus.BucketData+`.`+meta+`"]}
      subscribe: {allow: [">"]}
    }}
  ]
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), UsersFile: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "leader", User: "leader", Password: "l-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for _, run := range []string{"run-a", "run-b", "run-a"} {
		if _, err := c.PutRunData(ctx, path, run); err != nil {
			t.Fatalf("PutRunData(%s): %v", run, err)
		}
	}
	for _, tt := range []struct {
		run     string
		deleted int
	}{{"run-a", 0}, {"run-b", 1}} {
		if n, err := c.ReleaseData(ctx, tt.run); err != nil || n != tt.deleted {
			t.Fatalf("ReleaseData(%s) = %d, %v; want %d deleted", tt.run, n, err, tt.deleted)
		}
	}
	if n := dataChunksAs(t, ctx, srv, "leader", "l-secret"); n != 0 {
		t.Errorf("%d chunks left after the last release, want 0", n)
	}
}
