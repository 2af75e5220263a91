// Package regression is gahpo's second problem, the paper's 1-D regression
// task: a 1 → 100 (sigmoid) → 1 network trained with plain SGD on the mean
// squared error, scored by k-fold cross-validation. Its training set leaves
// gaps in the input range (see Gaps) that the test set covers, to ask whether
// the network guesses the function where it saw no data.
//
// # Data
//
// Load returns the embedded data set: about 200 noisy training rows of
// y = sin(x) + 0.3·x for x in [-6, 6] outside [-3, -2] and [1.5, 3], and
// 200 noiseless test rows evenly spaced over [-6, 6]. The CSV files (header
// "x,y") under data/ are written by
//
//	go run ./models/regression/gen
//
// from a fixed seed; ReadCSV parses them and any other file of that shape.
//
// # Training
//
// The network is plain Go float64 code with a hand-written forward and
// backward pass, not gorgonia: for 301 parameters a graph machine would
// spend far more time on its bookkeeping than on the arithmetic, while the
// loops here cost about 1.3 µs per example and step on one core
// (BenchmarkStep), mostly the 100 calls of math.Exp. Weights and biases start as PyTorch's nn.Linear default,
// uniform in ±1/√fan_in; the order of the examples is reshuffled each epoch.
// All randomness comes from Config.Seed, so a run is reproducible.
//
// A training whose loss becomes NaN or infinite stops: Fitness then
// reports Loss +Inf and the reason in models.Eval.Diverged, TrainFull
// returns ErrDiverged. Both check their context before each SGD step.
//
// # Multi-fidelity: training from a checkpoint
//
// [Train] trains a genome up to Run.To epochs (which replace the genome's
// epochs gene) from the state it keeps in a directory ([StateFile], about
// 35 KB at 10 folds: every network's weights, random source and order of
// examples, the epochs done, and the training's identity). It trains the
// k fold networks of [Fitness] and the whole-set network of [TrainFull]
// side by side and reports, after every epoch, the training loss, the
// cross-validated MSE (the fitness so far) and, on request, the test MSE.
// Training on from a checkpoint gives the same bits as training straight
// through, and n epochs give Fitness's loss and TrainFull's test MSE and
// weights for Epochs = n, so a genome's top rung is its final training. A
// state of another training is refused ([ErrCheckpoint]), an unreadable
// one named ([ErrBadState]).
//
// # Search space
//
// Space gives the genetic algorithm the hyperparameters lr (log scale,
// [1e-4, 1]), batch_size ([1, 64]) and epochs ([10, 300]); ConfigFromParams
// turns a genome's values back into a Config. With 10 folds a fitness at the
// defaults takes about a tenth of a second on two cores and the dearest point
// of the space (300 epochs at batch size 1) under half a second; see
// BenchmarkFitness. SGD on this network diverges within 300 epochs from a
// learning rate of about 0.03 at batch size 1, 0.05 at batch size 4 and 0.1
// at batch sizes 16 to 64, so roughly the top third of the lr range scores
// +Inf.
package regression
