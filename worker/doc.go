// Package worker runs genomes' trainings for any coordinator on the
// cluster. A worker pulls one task at a time per slot from the shared
// JetStream work queue, keeps its lease alive while it trains, publishes
// the result, and only then acknowledges the task; a worker that dies
// mid-training loses its lease and another worker gets the genome.
//
// Workers are stateless: start and stop any number, on any machine. Data
// sets come from the cluster's object store (checked by digest and cached
// on disk; each cached file's digest is checked again before every task
// and after every training, and a damaged one fetched again; a reference
// without a digest, from an older coordinator, is checked by the one the
// object store keeps) unless a local directory is given. Each file is
// written under its own name, the last part of its object's
// ("sha256-<hex>/train.csv": bus.DataObjectName). A task whose data set's
// object is missing from the store, or replaced, is handed back (counted)
// until its last attempt, whose failure says so; an older coordinator's
// reference by file name alone is read under its content's name when the
// object of its name is missing or replaced.
//
// # Jobs and checkpoints
//
// Each task becomes a models.Job for the Trainer, with an empty checkpoint
// directory of its own under CacheDir/jobs. When the task names a
// checkpoint (a promotion in a multi-fidelity search), the worker restores
// the archive there first; after a successful training with
// Task.CheckpointTo set, it keeps the directory in that object store bucket
// as <run>-<genome>-e<epochs>-<nonce> (a name of this training's own) and
// names it in the result. The directory is
// removed after every job; those of a killed worker are removed by the next
// worker that starts on the same cache directory. Each epoch's report is
// published as it comes (gahpo.Started.Report) for the curves of running
// genomes, and the result carries the whole curve. A training is announced
// (gahpo.Started without a report) once it has run a tenth of a second,
// and again every 3 s while it trains (a coordinator started since learns
// of it), never after its result.
//
// # Devices and refusals
//
// With Config.Devices (gahpo worker --gpus 0,1) a worker runs one slot per
// device and each job names its device; a command trainer restricts its
// process to it. Config.Accept lets a worker refuse the tasks of a problem
// it was not given (a task never carries the command that trains it):
// refused tasks go back to the queue for the other workers, not counted as
// attempts, and the refusal is logged once per problem.
package worker
