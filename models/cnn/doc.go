// Package cnn trains the paper's MNIST convolutional network with gorgonia,
// as the fitness of a genome (batch size, learning rate, StepLR gamma,
// weight decay) and as the final full training of the best one.
//
// # Network
//
// Exactly PyTorch's MNIST example, in float32:
//
//	conv 1→32 3×3, ReLU, conv 32→64 3×3, ReLU, max-pool 2×2, dropout 0.25,
//	linear 9216→128, ReLU, dropout 0.5, linear 128→10, log-softmax, NLL loss
//
// Weights and biases start as PyTorch's default, U(±1/√fan_in), drawn from
// Config.Seed. Adadelta (rho 0.9, eps 1e-6, PyTorch's update, weight decay
// added to the gradient) is a gorgonia Solver, [Adadelta]; [StepLR]
// multiplies its learning rate by gamma after each epoch.
//
// # Fitness and full training
//
// [Fitness] trains one epoch on the splits' training set and returns the
// mean validation NLL (lower is better). [TrainFull] trains several epochs
// and reports test loss and accuracy after each; its weights, serialised in
// a small versioned and checksummed format, load back into [Evaluate].
//
// # Determinism
//
// The seed gives the initial weights, the shuffling of every epoch and the
// dropout masks, from separate random streams: the same Config on the same
// data gives the same fitness on the same machine (a different BLAS may
// round differently).
//
// # Batches
//
// One graph and its tape machine serve every batch; the inputs are tensors
// overwritten in place. The last, shorter batch of an epoch is trained, as
// PyTorch does: its missing rows are zero images with zero weight in the
// loss, so they change nothing. Batches above [MaxChunk] images are
// computed in equal chunks whose gradients add up before one optimiser
// step, which bounds the memory.
//
// # Memory
//
// Peak RSS of a process training at batch 10, 64 and 128 (MNIST loaded,
// gonum's BLAS, BenchmarkTrain): 0.26, 0.69 and 1.24 GB; at 512, computed
// in four chunks of MaxChunk, 1.23 GB. An evaluation graph adds its own
// (0.60 GB peak for BenchmarkEvaluate alone). Measure with
//
//	go test -run '^$' -bench 'Train/batch=64$' -benchtime 30x ./models/cnn
//
// # Divergence
//
// A NaN or infinite loss, a NaN activation or a non-finite weight stops the
// training: Fitness then returns an infinite loss and the reason in
// models.Eval.Diverged, never a panic. The ReLUs are this package's own op,
// which fails on a NaN input: gorgonia's MaxPool2D would otherwise panic in
// its backward pass on a window of NaNs, in the tape machine's goroutine,
// beyond any recover. Panics in the calling goroutine are recovered as
// [ErrPanic].
//
// # BLAS
//
// gorgonia multiplies matrices with gonum's pure-Go BLAS unless told
// otherwise: [UseBLAS] installs another implementation for the whole
// process.
package cnn
