// Package command trains the genomes of a problem file by running its
// training command, in any language, as a separate process.
//
// # The protocol
//
// In: the genome as a JSON object in the file named by GAHPO_PARAMS (a
// choice as its string, a number as a number), and each "{name}" in the
// command's arguments replaced by the genome's value of parameter name; the
// epochs to reach in GAHPO_EPOCHS (the task's epochs; else, with a budget,
// its max (a run stored before the coordinator named a fitness's epochs); unset
// when neither is known); the epochs of the genome's whole training in
// GAHPO_MAX_EPOCHS, set with GAHPO_EPOCHS (the task's MaxEpochs under
// halving and pbt, the top rung's at each rung, so that a schedule keeps
// its length; else GAHPO_EPOCHS); a directory in
// GAHPO_CHECKPOINT_DIR that gahpo keeps between rungs (empty at the start);
// the data files' folder in GAHPO_DATA_DIR; the seed in GAHPO_SEED; the task
// kind (fitness or final) in GAHPO_KIND; GAHPO_TEST=1 when the test set is
// wanted too (always on a final training); the training subset in GAHPO_TRAIN_SUBSET, when the run has
// one; CUDA_VISIBLE_DEVICES set to the worker's device for the task,
// when it has one; GAHPO_FROM_PARAMS, under population based training,
// names a JSON file of the hyperparameters of the genome whose checkpoint
// is in GAHPO_CHECKPOINT_DIR when that genome is another (the command goes
// on from its state with its own hyperparameters, and may scale a
// schedule's state by them). The command gets the worker's environment
// less gahpo's own variables (GAHPO_*, the NATS and dashboard credentials
// among them) and CREDENTIALS_DIRECTORY, then the problem file's env; no
// shell runs the command.
//
// Out: metrics as JSON lines on standard output, {"epoch": 3, "val_loss":
// 0.21}; every numeric field is a metric (Python's bare NaN and Infinity
// are understood). Other lines are kept, the last [MaxLogLines] of at most
// [MaxLineBytes] bytes, in Outcome.Log. The objective's last value is the
// fitness (negated for a goal to maximise).
//
// A non-zero exit, no objective line, a NaN or infinite objective (the
// command is stopped at once), an objective outside the file's fitness
// bounds, or the timeout (train.timeout, or train.timeout_per_epoch times
// the epochs the training trains, the shorter) fail the genome: [Trainer.Train] returns an error
// wrapping models.ErrUntrainable whose message ends with the last lines of
// standard error, preceded by the line that says why when a stack trace
// pushed it out of them (internal/cause finds it). A failure for want of the
// objective says what the command printed instead: the names of the
// metrics it reported, a line that is not JSON, a JSON line that holds
// the objective nested or has no field of its name, a report on standard
// error, nothing at all. The timeout and a cancelled context end the whole process
// group: SIGTERM, then SIGKILL after [Trainer.Grace]. A flood of output
// never grows memory: lines are read through fixed-size buffers.
//
// # A worker killed with kill -9
//
// On Linux the kernel signals the command when the worker dies. A binary
// that calls [Guard] first in its main (gahpo does) runs every command
// through a copy of itself, the guard, which then ends the command's whole
// process group, the processes it started included; without it only the
// command itself is killed. The guard is also the child subreaper of what
// the command starts: a process that leaves the group (setsid, a daemon's
// double fork) is given to the guard when its parent ends, and the guard
// ends it (SIGTERM, then SIGKILL after the grace period) before it exits,
// however the command ended.
package command
