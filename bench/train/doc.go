// Command train measures how fast gahpo trains its MNIST CNN, with the
// method of the PyTorch peer (bench/train/compare/torch_mnist.py), so that the two
// figures compare: the same network, optimiser, data and timing.
//
//	GOMAXPROCS=2 go run ./bench/train bench 10,64,128   # training images/s per batch size
//	GOMAXPROCS=2 go run ./bench/train epoch 64 60000    # one timed epoch, then test accuracy
//
// # Method
//
// The CNN of package models/cnn trains with Adadelta (lr 1.0, weight decay
// 0) from the weights of seed 1, with the fast GEMM of models/gemm installed
// as gorgonia's BLAS, as the workers do (-blas gonum computes every matrix
// product with gonum's pure-Go BLAS instead). One network is trained
// throughout, on the 60,000 training images in one random order drawn once,
// batch after batch; a batch that would run past the end starts again at
// the front of that order. Like the peer:
//
//   - bench: for each batch size, 10 warm-up steps (the graph for a new
//     size is compiled in the first), then 5 rounds of 20 timed steps; a
//     round's speed is 20·batch images over its wall time. The RESULT line
//     gives the median, minimum and maximum of the rounds and the last loss.
//   - epoch: images/batch steps (the peer's epoch drops the last partial
//     batch), timed as a whole, then the accuracy on the 10,000 test images,
//     untimed. The EPOCH line gives the time, the speed, the last loss and
//     the test accuracy.
//
// The last line gives the process's peak resident set size (getrusage
// ru_maxrss), as the peer's does. A step is forward, backward and the
// optimiser's update, and the loss is read back, as the peer's loss.item()
// does; the data are loaded before anything is timed.
//
// # Threads
//
// GOMAXPROCS (or -threads) sets the parallelism of gahpo, as TORCH_THREADS
// does the peer's; the RESULT line reports it. The command bench/train/compare
// runs both with the same threads and prints them side by side.
package main
