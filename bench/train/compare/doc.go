// Command compare runs gahpo's training benchmark (bench/train) and the
// PyTorch peer (torch_mnist.py, embedded) one after the other, with the
// same threads and the same MNIST files, and prints them side by side:
//
//	go run ./bench/train/compare bench 10,64,128
//	batch=64 gahpo_img_s=… pytorch_img_s=… ratio=…
//	gahpo_maxrss_mb=… pytorch_maxrss_mb=…
//
//	go run ./bench/train/compare epoch 64 60000
//	epoch batch=64 images=59968 gahpo_train_s=… pytorch_train_s=… … gahpo_test_acc=… pytorch_test_acc=…
//
// ratio is gahpo's images/s over PyTorch's: above 1, gahpo is faster.
// gahpo_ceiling_fraction and gahpo_cpu_pct repeat gahpo's RESULT fields:
// the share of its GEMM's speed on the step's products that a whole step
// reaches, and the CPU it kept busy (200 for two cores). Each
// side's peak RSS is its own getrusage ru_maxrss. The load average before
// and after is printed too, since other jobs slow both sides down.
//
// # Requirements
//
// compare installs nothing. The peer needs Debian's PyTorch, run with
// /usr/bin/python3: when that cannot import torch and numpy, compare stops
// and prints the command that installs them (apt-get install -y
// python3-torch). gahpo's side is built with `go build` from the module
// that holds the working directory, unless -gahpo names a binary; the MNIST
// folder is the GoMNIST module's in the Go module cache unless -data names
// one. Both processes get GOMAXPROCS, TORCH_THREADS and OMP_NUM_THREADS set
// to -threads (default 2); their own output goes to standard error.
//
// # The peer's BLAS
//
// Debian's PyTorch does its linear layers with whatever libblas.so.3 the
// system provides, and that decides its speed. Measured here at batch 64
// on a quiet machine: ~420 img/s on the reference BLAS (libblas3, all that
// installing python3-torch brings), ~800 on OpenBLAS with its own threads
// (libopenblas0-pthread, whose threads fight PyTorch's OpenMP threads for
// the cores: 120-535 with another job running), ~1,260 on OpenBLAS
// threaded by OpenMP (libopenblas0-openmp).
// compare therefore puts the fastest set-up installed first in the peer's
// LD_LIBRARY_PATH: OpenMPBLASDir, else PthreadBLASDir, else the system's
// alternative (-peer-blas chooses another folder, or "system"); it prints
// the one chosen (pytorch_blas_setup=) and the BLAS libraries the peer
// loaded (pytorch_blas=), and warns about the two slow ones.
//
// # The peer's script
//
// torch_mnist.py, the peer of the figures in bench/README.md, is a copy of
// the project's shared script (its docstring gives its provenance),
// embedded in compare, which writes it to a temporary folder and runs it;
// -peer runs another script.
package main
