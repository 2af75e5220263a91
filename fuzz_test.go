package gahpo_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// Seeds: messages as the coordinator and the workers send them.
func messageSeeds() [][]byte {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "20261201-080000-abcdef", GenomeID: 7, Generation: 1,
		Problem: "regression", Params: map[string]float64{"lr": 0.01, "hidden": 16}, Seed: 42, DataSeed: 9, MaxAttempts: 3,
		Data: []gahpo.DataRef{{Name: "train.csv"}}, Rung: 1, Epochs: 3, FromEpochs: 1, Checkpoint: &gahpo.ObjectRef{Bucket: "ckpt", Name: "7"}}
	final := task
	final.Kind, final.Epochs, final.WeightsTo = gahpo.KindFinal, 14, "weights"
	res := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: task.RunID, GenomeID: 7, Worker: "w1", Attempt: 1,
		Fitness: 0.25, Accuracy: 0.9, Duration: time.Second, Curve: []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"val_loss": 0.3}}}}
	failed := res
	failed.Fitness, failed.Failure = gahpo.Float(posInf()), "diverged"
	started := gahpo.Started{V: gahpo.MessageVersion, RunID: task.RunID, GenomeID: 7, Worker: "w1", Attempt: 2, At: at}
	var out [][]byte
	for _, v := range []any{task, final, res, failed, started} {
		b, err := gahpo.Encode(v)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return append(out, []byte(`{}`), []byte(`{"v":1,"fitness":"-Inf"}`), []byte(`[1,2]`), []byte(`{"v":1} {"v":1}`), []byte(`{"params":{"x":1e400}}`))
}

func posInf() float64 { var z float64; return 1 / z }

// fuzzMessage checks that Decode never panics on any input, that every
// error wraps ErrBadMessage (or comes from Validate), and that a message it
// accepts encodes and decodes back to the same value.
func fuzzMessage[T any](f *testing.F) {
	for _, s := range messageSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := gahpo.Decode(data, &v); err != nil {
			if !errors.Is(err, gahpo.ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		b, err := gahpo.Encode(v)
		if err != nil {
			return // an accepted message may be too large to send back: not a decoding fault
		}
		var back T
		if err := gahpo.Decode(b, &back); err != nil {
			t.Fatalf("accepted %q, but its re-encoding %q is refused: %v", data, b, err)
		}
		b2, _ := gahpo.Encode(back)
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip changed the message:\n%s\n%s", b, b2)
		}
	})
}

func FuzzDecodeTask(f *testing.F)    { fuzzMessage[gahpo.Task](f) }
func FuzzDecodeResult(f *testing.F)  { fuzzMessage[gahpo.Result](f) }
func FuzzDecodeStarted(f *testing.F) { fuzzMessage[gahpo.Started](f) }
