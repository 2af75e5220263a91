package search

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gahpo/gahpo"
)

// Objects a result names. A worker stores a training's checkpoint and
// weights in the object store and names them in its result; the
// coordinator later fetches and deletes what the machine decides, with
// rights a worker does not have. So a result may name only objects its
// own training could have stored: in the bucket the machine gives tasks
// for that kind of object, under a name of the run and the genome
// (worker.CheckpointName's <run>-<genome>-e<epochs>-<nonce>, the weights'
// <run>-<genome>-weights-<nonce>, a final's <run>-final-<genome>-<nonce>).
// Anything else is refused with the result: a worker, or whoever holds its
// credentials, cannot have the data set or another run's objects deleted.

// checkObjects returns ErrRefused, wrapped with the reason, when r names
// an object its training cannot have stored.
func (m *Machine) checkObjects(r gahpo.Result) error {
	if ref := r.Checkpoint; ref != nil && !m.ownObject(*ref, m.cfg.CheckpointBucket, r.GenomeID) {
		return fmt.Errorf("%w: genome %d: the result names checkpoint %s/%s, not one of this run's genome's in %s",
			ErrRefused, r.GenomeID, ref.Bucket, ref.Name, m.cfg.CheckpointBucket)
	}
	if r.WeightsObject != "" {
		ref := gahpo.ObjectRef{Bucket: r.WeightsBucket, Name: r.WeightsObject}
		if !m.ownObject(ref, m.cfg.WeightsBucket, r.GenomeID) {
			return fmt.Errorf("%w: genome %d: the result names weights %s/%s, not this run's genome's in %s",
				ErrRefused, r.GenomeID, ref.Bucket, ref.Name, m.cfg.WeightsBucket)
		}
	}
	return nil
}

// ownObject tells whether ref is in bucket under a name of genome's in
// this run.
func (m *Machine) ownObject(ref gahpo.ObjectRef, bucket string, genome int) bool {
	g := strconv.Itoa(genome)
	return ref.Bucket == bucket && (strings.HasPrefix(ref.Name, m.run.ID+"-"+g+"-") || strings.HasPrefix(ref.Name, m.run.ID+"-final-"+g+"-"))
}
