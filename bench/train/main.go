package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/gemm"
	"github.com/gahpo/gahpo/models/mnist"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "train:", err)
		}
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("training benchmark failed", "err", err)
		os.Exit(1)
	}
}

// Modes of the command, as the peer's.
const (
	// ModeBench measures training images/s per batch size.
	ModeBench = "bench"
	// ModeEpoch times one epoch, then measures the test accuracy.
	ModeEpoch = "epoch"
)

// BLAS choices of the -blas flag.
const (
	// BLASGemm installs models/gemm's Sgemm, as the workers do.
	BLASGemm = "gemm"
	// BLASGonum computes every product, the convolutions' too, with
	// gonum's pure-Go BLAS.
	BLASGonum = "gonum"
)

// ErrUsage is returned (wrapped) by ParseFlags and Run for a command line
// or a Main that does not describe a measurement.
var ErrUsage = errors.New("train: usage")

// Main is the command, configured by ParseFlags (or by hand, in tests) and
// run by Run. The zero values of the optional fields are the peer's
// settings.
type Main struct {
	// Out receives the RESULT or EPOCH lines and the peak RSS.
	Out io.Writer
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger

	// Mode is ModeBench or ModeEpoch.
	Mode string
	// Batches are the batch sizes of ModeBench, measured in this order.
	Batches []int
	// Batch is the batch size of ModeEpoch.
	Batch int
	// Images is the number of training images of ModeEpoch: Images/Batch
	// steps.
	Images int

	// BLAS is BLASGemm (when empty) or BLASGonum.
	BLAS string
	// Threads sets GOMAXPROCS when positive; 0 keeps it.
	Threads int
	// DataDir holds the four MNIST files; empty means the GoMNIST module.
	DataDir string
	// Seed gives the initial weights, the dropout masks and the order of
	// the images; 0 means 1, the peer's seed.
	Seed uint64
	// LR is Adadelta's learning rate; 0 means 1.0, the peer's.
	LR float64
	// Warmup is the untimed steps per batch size; 0 means 10.
	Warmup int
	// Rounds is the timed rounds per batch size; 0 means 5.
	Rounds int
	// Steps is the steps per timed round; 0 means 20.
	Steps int
	// TrainImages limits the training set to its first N images; 0 means
	// all 60,000.
	TrainImages int
	// TestImages limits the test set of ModeEpoch to its first N images; 0
	// means all 10,000.
	TestImages int
	// CPUProfile, when not empty, is the file that receives a CPU profile
	// of the measurement (data loading excluded).
	CPUProfile string
	// Kernel, when not empty, forces models/gemm's micro-kernel (avx512,
	// avx2 or gonum; see gemm.SetKernel) with -blas gemm.
	Kernel string
	// NoCeiling leaves out the GEMM ceiling of ModeBench: the products of
	// each round's steps, timed after it (gflops, ceiling_gflops and
	// ceiling_fraction on the RESULT line).
	NoCeiling bool
	// EvalImages is the number of training images ModeBench evaluates
	// (no dropout, no gradients) after each batch size, for the
	// eval_img_per_s field; 0 leaves it out.
	EvalImages int
}

// NewMain returns a Main that writes results to stdout and logs to stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Out: stdout, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
}

// ParseFlags sets m from the command line: flags, then the mode and its
// arguments, as the peer takes them: "bench 10,64,128" or "epoch 64 60000".
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: train [flags] bench BATCH[,BATCH...] | epoch BATCH IMAGES\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&m.BLAS, "blas", BLASGemm, "matrix products: gemm (models/gemm, as the workers) or gonum")
	fs.IntVar(&m.Threads, "threads", 0, "GOMAXPROCS (0: keep the environment's)")
	fs.StringVar(&m.DataDir, "data", "", "folder of the four MNIST files (default: the GoMNIST module)")
	fs.Uint64Var(&m.Seed, "seed", 1, "seed of the weights, dropout and image order")
	fs.Float64Var(&m.LR, "lr", 1.0, "Adadelta learning rate")
	fs.IntVar(&m.Warmup, "warmup", 10, "bench: untimed steps per batch size")
	fs.IntVar(&m.Rounds, "rounds", 5, "bench: timed rounds per batch size")
	fs.IntVar(&m.Steps, "steps", 20, "bench: steps per timed round")
	fs.IntVar(&m.TrainImages, "train-images", 0, "train on the first N training images only (0: all)")
	fs.IntVar(&m.TestImages, "test-images", 0, "epoch: test on the first N test images only (0: all)")
	fs.StringVar(&m.Kernel, "kernel", "", "gemm's micro-kernel: avx512, avx2 or gonum (default: the best the CPU has)")
	fs.BoolVar(&m.NoCeiling, "no-ceiling", false, "bench: do not time the GEMM ceiling after each round")
	fs.IntVar(&m.EvalImages, "eval-images", 2000, "bench: evaluate this many images after each batch size (0: none)")
	fs.StringVar(&m.CPUProfile, "cpuprofile", "", "write a CPU profile of the measurement to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("%w: no mode (bench or epoch)", ErrUsage)
	}
	m.Mode = rest[0]
	var err error
	switch {
	case m.Mode == ModeBench && len(rest) == 2:
		m.Batches, err = parseInts(rest[1])
	case m.Mode == ModeEpoch && len(rest) == 3:
		if m.Batch, err = strconv.Atoi(rest[1]); err == nil {
			m.Images, err = strconv.Atoi(rest[2])
		}
	default:
		return fmt.Errorf("%w: want \"bench BATCH[,BATCH...]\" or \"epoch BATCH IMAGES\", got %q", ErrUsage, rest)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return m.validate()
}

// parseInts parses comma-separated integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("batch sizes %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// validate checks m and fills in the defaults.
func (m *Main) validate() error {
	switch m.BLAS {
	case "":
		m.BLAS = BLASGemm
	case BLASGemm, BLASGonum:
	default:
		return fmt.Errorf("%w: -blas %q, want %s or %s", ErrUsage, m.BLAS, BLASGemm, BLASGonum)
	}
	switch m.Mode {
	case ModeBench:
		if len(m.Batches) == 0 {
			return fmt.Errorf("%w: no batch sizes", ErrUsage)
		}
		for _, b := range m.Batches {
			if b < 1 || b > cnn.MaxBatchSize {
				return fmt.Errorf("%w: batch size %d outside 1..%d", ErrUsage, b, cnn.MaxBatchSize)
			}
		}
	case ModeEpoch:
		if m.Batch < 1 || m.Batch > cnn.MaxBatchSize {
			return fmt.Errorf("%w: batch size %d outside 1..%d", ErrUsage, m.Batch, cnn.MaxBatchSize)
		}
		if m.Images < m.Batch {
			return fmt.Errorf("%w: %d images, fewer than one batch of %d", ErrUsage, m.Images, m.Batch)
		}
	default:
		return fmt.Errorf("%w: mode %q, want %s or %s", ErrUsage, m.Mode, ModeBench, ModeEpoch)
	}
	if m.Threads < 0 || m.TrainImages < 0 || m.TestImages < 0 || m.Warmup < 0 || m.EvalImages < 0 || m.Rounds < 0 || m.Steps < 0 || m.LR < 0 {
		return fmt.Errorf("%w: negative -threads, -train-images, -test-images, -warmup, -rounds, -steps or -lr", ErrUsage)
	}
	if m.Seed == 0 {
		m.Seed = 1
	}
	if m.LR == 0 {
		m.LR = 1
	}
	if m.Warmup == 0 {
		m.Warmup = 10
	}
	if m.Rounds == 0 {
		m.Rounds = 5
	}
	if m.Steps == 0 {
		m.Steps = 20
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run loads the data, installs the BLAS, measures, and writes the result
// lines and the peak RSS to m.Out. It leaves the BLAS as it found it.
func (m *Main) Run(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	if m.Threads > 0 {
		runtime.GOMAXPROCS(m.Threads)
	}
	train, test, err := mnist.Load(m.DataDir)
	if err != nil {
		return fmt.Errorf("load MNIST: %w", err)
	}
	if m.TrainImages > 0 && m.TrainImages < train.N {
		train = train.Slice(0, m.TrainImages)
	}
	if m.TestImages > 0 && m.TestImages < test.N {
		test = test.Slice(0, m.TestImages)
	}
	if m.BLAS != BLASGemm { // gonum's for gorgonia and for the convolutions
		defer cnn.UseGonum()()
	} else if m.Kernel != "" {
		old := gemm.Kernel()
		if err := gemm.SetKernel(m.Kernel); err != nil {
			return fmt.Errorf("%w: -kernel: %w", ErrUsage, err)
		}
		defer func() { _ = gemm.SetKernel(old) }() // available: it was in use
	}
	kernel := gemm.Kernel()
	env := fmt.Sprintf("peer=gahpo version=%s blas=%s kernel=%s threads=%d", runtime.Version(), m.BLAS, kernel, runtime.GOMAXPROCS(0))
	m.Logger.Info("data loaded", "train", train.N, "test", test.N, "blas", m.BLAS, "kernel", kernel, "threads", runtime.GOMAXPROCS(0))
	if m.CPUProfile != "" {
		stop, err := startProfile(m.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	switch m.Mode {
	case ModeBench:
		err = m.runBench(ctx, env, train)
	default:
		err = m.runEpoch(ctx, env, train, test)
	}
	if err != nil {
		return err
	}
	if mb, ok := maxRSSMB(); ok {
		fmt.Fprintf(m.Out, "maxrss_mb=%.0f\n", mb)
	}
	return nil
}

// startProfile starts a CPU profile into file and returns the function
// that stops it and closes the file.
func startProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			slog.Error("close the CPU profile", "file", file, "err", err)
		}
	}, nil
}
