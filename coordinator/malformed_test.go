package coordinator_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models/problems"
)

// TestMalformedMessagesAreRejected feeds garbage tasks and results into the
// streams of a running search: they are logged and dropped, and the run
// ends normally.
func TestMalformedMessagesAreRejected(t *testing.T) {
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(4, 2, 9) // the garbage needs a run, not a long one
	rc.FinalEpochs = 0
	c, wait := background(t, st, testnats.Connect(t, srv, "coord"), rc)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for js == nil || func() bool { _, err := js.Stream(ctx, "GAHPO_RESULTS"); return err != nil }() {
		time.Sleep(20 * time.Millisecond)
	}
	run := c.RunID()
	garbage := []struct{ subject, body string }{
		{"gahpo.task.x.1", "not json at all"},
		{"gahpo.task.x.2", `{"v":99,"kind":"fitness"}`},
		{"gahpo.task.x.3", `{"v":1,"kind":"fitness","run_id":"x","genome_id":3,"problem":"nope","params":{"lr":5}}`},
		{"gahpo.result." + run + ".1", `{"v":1,"kind":"fitness","run_id":"` + run + `"}`},
		{"gahpo.result." + run + ".2", `garbage`},
		{"gahpo.result." + run + ".4", `{"v":1,"kind":"fitness","run_id":"other-run","genome_id":4,"fitness":0}`},
	}
	for _, g := range garbage {
		if _, err := js.Publish(ctx, g.subject, []byte(g.body)); err != nil {
			t.Fatalf("publish %s: %v", g.subject, err)
		}
	}
	startWorkers(t, srv, 2, problems.NewTrainer())
	checkComplete(t, st, wait())
}
