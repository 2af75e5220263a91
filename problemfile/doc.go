// Package problemfile reads a problem file: a search problem declared in
// YAML (or JSON) whose genomes a command trains, in any language.
//
// # The file
//
//	name: my-model                      # unique; tasks and history carry it
//	space:
//	  - {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}   # scale: linear (default) | log
//	  - {name: batch_size, type: int, min: 16, max: 256}
//	  - {name: optimizer, type: choice, values: [sgd, adam, adadelta]}
//	objective: {metric: val_loss, goal: minimize}                  # or maximize
//	budget: {min: 1, max: 14}           # epochs; omit: one run per genome
//	train:
//	  command: [python3, train.py, --lr, "{lr}"]                   # {name} takes a genome's value
//	  dir: .                            # working directory, relative to the file
//	  timeout_per_epoch: 5m             # each epoch trained; or timeout: 2h, any training (both: the shorter)
//	  env: {PYTHONUNBUFFERED: "1"}
//	data: [data/train.csv]              # relative to the file; workers get them in GAHPO_DATA_DIR
//	fitness: {min: 0, max: 100}         # optional: an objective outside fails the genome
//
// [Load] reads and validates a file at once: a bad range, a duplicate name,
// an unknown type, a missing command, a log scale whose min is not above
// zero, a section in another shape (a command given as one string, not a
// list), ... are refused with one line naming the field. Unknown fields are
// refused too, so that a misspelt key is not silently ignored.
//
// # Agreement between machines
//
// [Problem.Digest] is the SHA-256 of the file's bytes. The coordinator
// puts it in every task (gahpo.Task.ProblemDigest); a worker trains a task
// only when it was given a file of that name with the same digest, so a
// task never carries a command: the command always comes from a file on
// the worker's own machine.
package problemfile
