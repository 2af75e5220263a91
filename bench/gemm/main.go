// Command gemm measures package gemm's Sgemm against gonum's: GFLOP/s on
// 1024³ and on the CNN's matrix products, and the CNN's training speed with
// each BLAS.
//
//	go run ./bench/gemm                      # products, every kernel
//	go run ./bench/gemm -cnn -images 1280    # CNN training, every kernel
//	go run ./bench/gemm -cnn -validation 500 # ... scoring 500 validation images
//
// Each product is timed many times for -time; the best run is reported
// (other loads on a shared machine slow runs down, never speed them up)
// with the median.
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
	"slices"
	"strings"
	"time"

	"github.com/gahpo/gahpo/models/gemm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m := &Main{Out: os.Stdout}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		slog.Error("gemm benchmark failed", "err", err)
		os.Exit(1)
	}
}

// Main is the command, configured by ParseFlags and run by Run.
type Main struct {
	// Out receives the report.
	Out io.Writer
	// Kernels are the kernels to compare; empty means gemm.Kernels().
	Kernels []string
	// Threads is the goroutines per product (gemm.SetThreads); 0 means
	// GOMAXPROCS.
	Threads int
	// Batch is the CNN batch size whose products are measured.
	Batch int
	// Time is how long each product is run for; 0 means one second.
	Time time.Duration
	// CNN selects the training measurement instead of the products.
	CNN bool
	// Images is the number of training images per CNN measurement.
	Images int
	// Validation is the number of validation images the CNN's fitness is
	// measured on; 0 means all of them.
	Validation int
}

// ParseFlags sets m from the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("gemm", flag.ContinueOnError)
	kernels := fs.String("kernels", "", "comma-separated kernels to compare (default: all of "+strings.Join(gemm.Kernels(), ",")+")")
	fs.IntVar(&m.Threads, "threads", 0, "goroutines per product (0: GOMAXPROCS)")
	fs.IntVar(&m.Batch, "batch", 64, "CNN batch size")
	fs.DurationVar(&m.Time, "time", time.Second, "time spent on each product and kernel")
	fs.BoolVar(&m.CNN, "cnn", false, "measure CNN training (models/cnn) instead of single products")
	fs.IntVar(&m.Images, "images", 1280, "training images per CNN measurement")
	fs.IntVar(&m.Validation, "validation", 0, "validation images scored after the CNN training (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kernels != "" {
		m.Kernels = strings.Split(*kernels, ",")
	}
	return m.validate()
}

// validate checks the configuration and fills in defaults.
func (m *Main) validate() error {
	if len(m.Kernels) == 0 {
		m.Kernels = gemm.Kernels()
	}
	for _, k := range m.Kernels {
		if !slices.Contains(gemm.Kernels(), k) {
			return fmt.Errorf("kernel %q: %w", k, gemm.ErrKernelUnavailable)
		}
	}
	if m.Batch < 1 {
		return fmt.Errorf("batch %d: must be at least 1", m.Batch)
	}
	if m.Images < m.Batch && m.CNN {
		return fmt.Errorf("images %d: must be at least the batch %d", m.Images, m.Batch)
	}
	if m.Validation < 0 {
		return fmt.Errorf("validation %d: must not be negative", m.Validation)
	}
	if m.Time <= 0 {
		m.Time = time.Second
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	return nil
}

// Run measures and writes the report to m.Out.
func (m *Main) Run(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	saved := gemm.Kernel()
	defer func() {
		if err := gemm.SetKernel(saved); err != nil {
			slog.Error("restore kernel", "err", err)
		}
	}()
	gemm.SetThreads(m.Threads)
	defer gemm.SetThreads(0)
	fmt.Fprintf(m.Out, "kernel chosen: %s; goroutines per product: %d\n", saved, gemm.Threads())
	if m.CNN {
		return m.runCNN(ctx)
	}
	return m.runProducts(ctx)
}
