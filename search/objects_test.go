package search

import (
	"errors"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestResultNamesOnlyItsOwnObjects: a result that names an object its
// training cannot have stored (the data set, another run's or genome's
// checkpoint, weights in the wrong bucket) is refused and changes nothing:
// in particular the coordinator is not told to delete it.
func TestResultNamesOnlyItsOwnObjects(t *testing.T) {
	rc := halving(runConfig(4, 2), gahpo.BreedingSteadyState)
	for _, tc := range []struct {
		name    string
		ckpt    *gahpo.ObjectRef
		weights gahpo.ObjectRef
		refused bool
	}{
		{"its own checkpoint", &gahpo.ObjectRef{Bucket: "ckpt", Name: "run1-1-e1-abcd1234"}, gahpo.ObjectRef{}, false},
		{"its own weights", nil, gahpo.ObjectRef{Bucket: "weights", Name: "run1-1-weights-abcd1234"}, false},
		{"the data set", &gahpo.ObjectRef{Bucket: "gahpo-data", Name: "train-images-idx3-ubyte.gz"}, gahpo.ObjectRef{}, true},
		{"a name of its own in the data bucket", &gahpo.ObjectRef{Bucket: "gahpo-data", Name: "run1-1-e1-abcd1234"}, gahpo.ObjectRef{}, true},
		{"another run's checkpoint", &gahpo.ObjectRef{Bucket: "ckpt", Name: "run2-1-e1-abcd1234"}, gahpo.ObjectRef{}, true},
		{"another genome's checkpoint", &gahpo.ObjectRef{Bucket: "ckpt", Name: "run1-12-e1-abcd1234"}, gahpo.ObjectRef{}, true},
		{"another genome's final weights", nil, gahpo.ObjectRef{Bucket: "weights", Name: "run1-final-3-abcd1234"}, true},
		{"weights in the checkpoints' bucket", nil, gahpo.ObjectRef{Bucket: "ckpt", Name: "run1-1-weights-abcd1234"}, true},
		{"weights named by bucket alone", nil, gahpo.ObjectRef{Bucket: "gahpo-data"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := testMachine(t, rc)
			var task gahpo.Task
			for _, x := range m.Ready().Publish {
				if x.GenomeID == 1 {
					task = x
				}
			}
			r := answer(task)
			r.Checkpoint, r.WeightsBucket, r.WeightsObject = tc.ckpt, tc.weights.Bucket, tc.weights.Name
			err := m.Result(r, t0)
			if got := errors.Is(err, ErrRefused); got != tc.refused {
				t.Fatalf("refused %v (%v), want %v", got, err, tc.refused)
			}
			rd := m.Ready()
			if tc.refused {
				if g, _ := m.Genome(1); g.Status != gahpo.GenomeQueued || !rd.Empty() {
					t.Errorf("a refused result changed the run: genome 1 %s, ready %+v", g.Status, rd)
				}
				return
			}
			for _, d := range rd.Delete {
				if d.Bucket != "ckpt" && d.Bucket != "weights" {
					t.Errorf("deletes %s/%s", d.Bucket, d.Name)
				}
			}
		})
	}
}
