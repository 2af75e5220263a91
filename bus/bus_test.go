package bus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

func TestFetchChecksAndCachesData(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "train.gz")
	data := make([]byte, 3<<20) // several object store chunks
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := c.PutFile(ctx, bus.BucketData, src)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Digest != bus.Digest(data) || ref.Size != uint64(len(data)) {
		t.Fatalf("ref = %+v", ref)
	}
	cache := t.TempDir()
	path, err := c.Fetch(ctx, ref, cache)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if bus.Digest(got) != ref.Digest {
		t.Fatal("fetched file differs")
	}
	// A corrupted cache is fetched again.
	if err := os.WriteFile(path, []byte("rotten"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(ctx, ref, cache); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); bus.Digest(got) != ref.Digest {
		t.Error("corrupt cache was not repaired")
	}
	// A reference whose digest does not match the stored object is refused.
	bad := ref
	bad.Digest = bus.Digest([]byte("something else"))
	if _, err := c.Fetch(ctx, bad, t.TempDir()); err == nil {
		t.Error("fetch with a wrong digest: no error")
	}
}

// puller is how a task is taken: a TaskQueue's Next, or a TaskSlot's.
type puller interface {
	Next(ctx context.Context, wait time.Duration) (*bus.Delivery, error)
}

// TestTaskQueueHandsOneTaskAtATime, through the queue's Next and through a
// slot's (the worker's, a subscription kept from task to task).
func TestTaskQueueHandsOneTaskAtATime(t *testing.T) {
	t.Parallel() // its own servers; its waits overlap the others'
	for _, slot := range []bool{false, true} {
		name := map[bool]string{false: "queue", true: "slot"}[slot]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testOneTaskAtATime(t, slot)
		})
	}
}

func testOneTaskAtATime(t *testing.T, slot bool) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx := context.Background()
	if _, err := c.Tasks(ctx); !errors.Is(err, bus.ErrNoConsumer) {
		t.Fatalf("before setup: err = %v, want ErrNoConsumer", err)
	}
	if n, _, err := c.TasksHeld(ctx); n != 0 || err != nil {
		t.Errorf("before setup: TasksHeld = %d, %v; want 0, no error", n, err)
	}
	// A lease long enough that a loaded machine does not expire b's before
	// the third pull.
	const lease = 3 * time.Second
	if err := c.EnsureStreams(ctx, lease); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 2; id++ {
		task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: id, Problem: "regression", Params: map[string]float64{"lr": 0.1}}
		if err := c.PublishTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		// Publishing twice is deduplicated.
		if err := c.PublishTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := c.TaskQueued(ctx, "r1", 2); !ok || err != nil {
		t.Errorf("TaskQueued(2) = %v, %v", ok, err)
	}
	q, err := c.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.AckWait(ctx); got != lease {
		t.Errorf("lease %v, want %v", got, lease)
	}
	// A resumed run's coordinator with another --ack-wait: the queue bound
	// before says the new lease, which its workers renew by.
	if err := c.EnsureStreams(ctx, 2*lease); err != nil {
		t.Fatal(err)
	}
	if got := q.AckWait(ctx); got != 2*lease {
		t.Errorf("lease after the coordinator changed it: %v, want %v", got, 2*lease)
	}
	if err := c.EnsureStreams(ctx, lease); err != nil {
		t.Fatal(err)
	}
	held := func(want int) {
		t.Helper()
		if n, l, err := c.TasksHeld(ctx); n != want || l != lease || err != nil {
			t.Errorf("TasksHeld = %d, %v, %v; want %d, %v", n, l, err, want, lease)
		}
	}
	held(0)
	var p puller = q
	if slot {
		s, err := q.Slot()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		p = s
	}
	a, err := p.Next(ctx, 5*time.Second)
	if err != nil || a == nil {
		t.Fatalf("first: %v", err)
	}
	held(1)
	b, err := p.Next(ctx, 5*time.Second)
	if err != nil || b == nil {
		t.Fatalf("second: %v", err)
	}
	held(2)
	if a.Subject == b.Subject {
		t.Errorf("the same task twice: %s", a.Subject)
	}
	none, err := p.Next(ctx, 300*time.Millisecond)
	if none != nil || err != nil {
		t.Errorf("third pull = %v, %v; want nothing (the duplicates were dropped)", none, err)
	}
	if err := a.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	held(1)
	// b is not acknowledged: it comes back after the lease, as attempt 2.
	again, err := p.Next(ctx, 3*lease)
	if err != nil || again == nil || again.Subject != b.Subject || again.Attempt != 2 {
		t.Fatalf("redelivery = %+v, %v; want %s attempt 2", again, err, b.Subject)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.TaskQueued(ctx, "r1", 1); ok {
		t.Error("an acknowledged task is still queued")
	}
}

func TestDecodeRejectsBadMessages(t *testing.T) {
	big := make([]byte, gahpo.MaxMessageSize+1)
	for i := range big {
		big[i] = ' '
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"not json", []byte("hello")},
		{"empty object", []byte("{}")},
		{"future version", []byte(`{"v":2,"kind":"fitness","run_id":"r","genome_id":1,"problem":"cnn","params":{"lr":1}}`)},
		{"unknown kind", []byte(`{"v":1,"kind":"dance","run_id":"r","genome_id":1,"problem":"cnn","params":{"lr":1}}`)},
		{"no params", []byte(`{"v":1,"kind":"fitness","run_id":"r","genome_id":1,"problem":"cnn"}`)},
		{"two objects", []byte(`{"v":1} {"v":1}`)},
		{"oversized", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var task gahpo.Task
			if err := gahpo.Decode(tt.data, &task); !errors.Is(err, gahpo.ErrBadMessage) {
				t.Errorf("err = %v, want ErrBadMessage", err)
			}
		})
	}
	var ok gahpo.Task
	if err := gahpo.Decode([]byte(`{"v":1,"kind":"fitness","run_id":"r","genome_id":1,"problem":"cnn","params":{"lr":1},"new_field":3}`), &ok); err != nil {
		t.Errorf("valid task with an extra field: %v", err)
	}
}

// TestTaskWaitingPerReplicate: each confirmation training of a genome has
// a subject of its own, so one in the queue does not hide another that
// was lost; a result waiting counts as its task.
func TestTaskWaitingPerReplicate(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx := context.Background()
	if err := c.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	task := func(replicate int) gahpo.Task {
		return gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 3, Problem: "regression",
			Params: map[string]float64{"lr": 0.1}, Replicate: replicate, Token: fmt.Sprintf("tok%d", replicate)}
	}
	if err := c.PublishTask(ctx, task(1)); err != nil {
		t.Fatal(err)
	}
	res := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 3, Worker: "w", Attempt: 1, Replicate: 3, Token: "tok3"}
	if err := c.PublishResult(ctx, res, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		task gahpo.Task
		want bool
	}{
		{task(1), true},  // queued
		{task(2), false}, // lost: must be queued again
		{task(3), true},  // its result waits
		{task(0), false}, // the genome's own rung task
	} {
		if got, err := c.TaskWaiting(ctx, tc.task); err != nil || got != tc.want {
			t.Errorf("replicate %d: TaskWaiting = %v, %v; want %v", tc.task.Replicate, got, err, tc.want)
		}
	}
}

// TestTaskSlotClosed: a slot whose connection is closed for good says so
// (ErrClosed), in words: its error read "...: %!w(<nil>)".
func TestTaskSlotClosed(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx := context.Background()
	if err := c.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	q, err := c.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := q.Slot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Close()
	d, err := s.Next(ctx, time.Second)
	if d != nil || !errors.Is(err, bus.ErrClosed) || strings.Contains(err.Error(), "%!") {
		t.Errorf("Next on a closed connection = %v, %v; want no task and ErrClosed, said in words", d, err)
	}
}

// TestDataObjectName: a data file's object is named by its content's
// SHA-256 (hex) and its file name, which a fetch writes it under; a
// digest that is not a SHA-256 is refused, and only such names are taken
// for content names (a file name alone is an older coordinator's).
func TestDataObjectName(t *testing.T) {
	sum := "a30a043314fa89294fa2c1c989a01fbb5329e5c085a5c5a8d27317656de24ae0" // SHA-256 of "0.25"
	tests := []struct {
		digest, name, want string
	}{
		{bus.Digest([]byte("0.25")), "train.csv", "sha256-" + sum + "/train.csv"},
		{bus.Digest([]byte("0.25")), "/data/mnist/train.csv", "sha256-" + sum + "/train.csv"},
		{"", "train.csv", ""},
		{"SHA-256=abc", "train.csv", ""},
		{"MD5=" + strings.TrimPrefix(bus.Digest([]byte("0.25")), "SHA-256="), "train.csv", ""},
	}
	for _, tt := range tests {
		got, err := bus.DataObjectName(tt.digest, tt.name)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("DataObjectName(%q, %q) = %q, %v; want %q", tt.digest, tt.name, got, err, tt.want)
		}
	}
	for name, want := range map[string]bool{
		"sha256-" + sum + "/train.csv":                     true,
		"train.csv":                                        false,
		"sha256-" + sum:                                    false,
		"sha256-" + sum + "/":                              false,
		"sha256-" + sum[:10] + "/train.csv":                false,
		"sha256-" + strings.Repeat("z", 64) + "/train.csv": false,
	} {
		if got := bus.IsDataObjectName(name); got != want {
			t.Errorf("IsDataObjectName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestPutDataStoresEachContentOnce: two files of one name with other
// bytes are two objects, neither replacing the other; the same bytes put
// again (another run's copy of the file) are one object, put once.
func TestPutDataStoresEachContentOnce(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var refs []gahpo.DataRef
	for _, content := range []string{"0.25", "0.5", "0.25"} {
		src := filepath.Join(t.TempDir(), "train.csv")
		if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		ref, err := c.PutData(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	if refs[0] != refs[2] || refs[0].Name == refs[1].Name {
		t.Errorf("references %+v; want the first and last alike, the second another object", refs)
	}
	names, err := c.ListObjects(ctx, bus.BucketData)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 {
		t.Errorf("the bucket holds %q; want 2 objects", names)
	}
	for i, ref := range refs {
		path, err := c.Fetch(ctx, ref, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if want := []string{"0.25", "0.5", "0.25"}[i]; filepath.Base(path) != "train.csv" || string(got) != want {
			t.Errorf("fetched %s holding %q; want train.csv holding %q", path, got, want)
		}
	}
}
