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
// # Speed
//
// gorgonia builds the graph and differentiates it; every layer is one of
// this package's own gorgonia ops, each checked against gorgonia's
// reference ops and by finite differences (conv_test.go, features_test.go,
// linear_test.go):
//
//   - both convolutions and the max-pool are one op (featOp): each core
//     takes chunks of the batch's images, claimed one at a time, through
//     conv1, its ReLU, conv2 and the ReLU'd max-pool, image after image,
//     so an image's
//     activations are still in the core's cache for the next layer; the
//     activations keep NHWC order, where im2col is three contiguous copies
//     per output pixel and im2col × filters (gemm.SgemmSerial, AVX-512 or
//     AVX2 assembly) writes the output in place, with the bias as the
//     product's starting value; the max-pool returns to NCHW order, so
//     that the weights keep PyTorch's layout;
//   - its gradient (featGradOp) goes back through the same chain image by
//     image: max-pool's gradient, conv2's filter, bias and input
//     gradients, conv1's ReLU, filter and bias gradients, each chunk
//     summing its own weight gradients (added in chunk order: the same
//     sums whichever core ran which chunk); no gradient of an activation is
//     kept for the whole batch, and none is computed for the image;
//   - the linear layers (linearOp) read the features as rows without a
//     reshape, fuse the bias and fc1's ReLU, and run their products on all
//     cores through gorgonia's BLAS ([UseBLAS]); the dropout masks (maskOp)
//     and the ReLUs run on all cores, the masks with an AVX2 loop of
//     package vec; so does the Adadelta update of a large tensor (fc1's
//     weights), with vec's AVX2 update;
//   - every op keeps its outputs from one batch to the next (the
//     log-softmax and the loss included) instead of allocating and zeroing
//     megabytes per step: a warm training step allocates only gorgonia's
//     bookkeeping, tens of KB.
//
// bench/train measures the speed against PyTorch and against the GEMM's
// own speed on the step's products (ceiling_fraction).
//
// # Fitness and full training
//
// [Fitness] trains one epoch on the splits' training set and returns the
// mean validation NLL (lower is better). [TrainFull] trains several epochs
// and reports test loss and accuracy after each; its weights, serialised in
// a small versioned and checksummed format, load back into [Evaluate].
//
// # Multi-fidelity: training from a checkpoint
//
// [Train] trains a genome up to Run.To epochs from the state it keeps in a
// directory ([StateFile], about 14.4 MB: the float32 weights, Adadelta's
// two running averages, the learning rate after StepLR, the PCG states of
// the shuffling and the dropout, the epochs done, and the training's
// identity: batch size, lr, gamma, weight decay, seed and a CRC-32C of the
// training set). It reports the training loss, the held-out loss and
// accuracy (and the test set's, and conv1's weights, on request) after
// every epoch. Training 1 epoch then on to n gives the same bits as n
// epochs straight through, as [Fitness] (n = 1) and [TrainFull] do: the
// search may stop a genome after any epoch and go on with it later, on
// this or another worker of the same machine kind. A state of another
// training is refused ([ErrCheckpoint]), an unreadable one named
// ([ErrBadState]); neither is the genome's fault. The file is written to a
// temporary name, synced and renamed. BenchmarkCheckpoint measures it:
//
//	go test -run '^$' -bench Checkpoint -benchtime 10x ./models/cnn
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
// One graph and its program (its ops in order, run without allocating)
// serve every batch; the inputs are tensors
// overwritten in place. The last, shorter batch of an epoch is trained, as
// PyTorch does: its missing rows are zero images with zero weight in the
// loss, so they change nothing. Batches above [MaxChunk] images are
// computed in equal chunks whose gradients add up before one optimiser
// step, which bounds the memory.
//
// # Memory
//
// Peak RSS of a process training at batch 10, 64 and 128 (MNIST loaded,
// BenchmarkTrain): see bench/README.md's "Measured here"; measure with
//
//	go test -run '^$' -bench 'Train/batch=64$' -benchtime 30x ./models/cnn
//
// # Divergence
//
// A NaN or infinite loss, activation (after conv1 or fc1, the ReLUs that
// check) or weight stops the training: Fitness then returns an infinite
// loss and the reason in models.Eval.Diverged, never a panic. Panics in
// the calling goroutine are recovered as [ErrPanic].
//
// # BLAS
//
// When the package loads it makes models/gemm gorgonia's BLAS if the CPU
// has AVX-512 or AVX2 with FMA (else gonum's pure-Go BLAS stays); the
// convolutions call models/gemm directly. [UseBLAS] installs another
// implementation for gorgonia, [UseGonum] gonum's for every product; both
// act on the whole process.
package cnn
