package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gahpo/gahpo/models/mnist"
)

// peerScript is the PyTorch peer, torch_mnist.py (see its provenance).
//
//go:embed torch_mnist.py
var peerScript []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Out: os.Stdout, Log: os.Stderr}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "compare:", err)
		}
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// InstallPeer is the command that installs the peer's PyTorch and NumPy
// (as root, on Debian).
const InstallPeer = "apt-get install -y python3-torch"

var (
	// ErrUsage is returned (wrapped) for a command line that does not
	// describe a comparison.
	ErrUsage = errors.New("compare: usage")
	// ErrNoPeer is returned (wrapped) when the Python interpreter cannot
	// import torch and numpy.
	ErrNoPeer = errors.New("compare: PyTorch peer unavailable")
	// ErrOutput is returned (wrapped) when a side's output lacks a line
	// the comparison needs.
	ErrOutput = errors.New("compare: missing result")
)

// Main is the command, configured by ParseFlags and run by Run.
type Main struct {
	// Out receives the side-by-side lines.
	Out io.Writer
	// Log receives both sides' own output as it comes; nil discards it.
	Log io.Writer

	// Mode is "bench" or "epoch"; Args are its arguments, passed verbatim
	// to both sides: the batch sizes ("10,64,128"), or the batch size and
	// the number of images ("64", "60000").
	Mode string
	Args []string
	// Threads is both sides' parallelism; 0 means 2.
	Threads int
	// Python runs the peer; empty means /usr/bin/python3.
	Python string
	// Peer is the peer's script; empty means the copy of torch_mnist.py
	// embedded in this command.
	Peer string
	// Gahpo is a built bench/train binary; empty builds one.
	Gahpo string
	// DataDir holds the four MNIST files; empty means the GoMNIST module's.
	DataDir string
	// BLAS is gahpo's -blas: "gemm" (when empty) or "gonum".
	BLAS string
	// PeerBLAS is a folder holding the libblas.so.3 the peer should load,
	// put first in its LD_LIBRARY_PATH; empty means OpenMPBLASDir when it
	// holds one, and "system" the system's libblas.so.3 alternative.
	PeerBLAS string

	peerLib string // the BLAS library the peer loaded

	batches []int // the batch sizes of Args, in order
}

// ParseFlags sets m from the command line: flags, then "bench
// BATCH[,BATCH...]" or "epoch BATCH IMAGES".
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: compare [flags] bench BATCH[,BATCH...] | epoch BATCH IMAGES\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&m.Threads, "threads", 2, "threads of both sides (GOMAXPROCS, TORCH_THREADS, OMP_NUM_THREADS)")
	fs.StringVar(&m.Python, "python", "/usr/bin/python3", "Python interpreter with Debian's python3-torch")
	fs.StringVar(&m.Peer, "peer", "", "the peer's script (default: this command's own torch_mnist.py)")
	fs.StringVar(&m.Gahpo, "gahpo", "", "a built bench/train binary (default: go build it)")
	fs.StringVar(&m.DataDir, "data", "", "folder of the four MNIST files (default: the GoMNIST module's)")
	fs.StringVar(&m.BLAS, "blas", "gemm", "gahpo's matrix products: gemm or gonum")
	fs.StringVar(&m.PeerBLAS, "peer-blas", "", "folder of the libblas.so.3 the peer loads, or \"system\" (default: the fastest set-up installed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		m.Mode, m.Args = fs.Arg(0), fs.Args()[1:]
	}
	return m.validate()
}

// validate checks m and fills in the defaults.
func (m *Main) validate() error {
	switch {
	case m.Mode == "bench" && len(m.Args) == 1:
		m.batches = nil
		for f := range strings.SplitSeq(m.Args[0], ",") {
			b, err := strconv.Atoi(f)
			if err != nil || b < 1 {
				return fmt.Errorf("%w: batch size %q", ErrUsage, f)
			}
			m.batches = append(m.batches, b)
		}
	case m.Mode == "epoch" && len(m.Args) == 2:
		b, err1 := strconv.Atoi(m.Args[0])
		n, err2 := strconv.Atoi(m.Args[1])
		if err1 != nil || err2 != nil || b < 1 || n < b {
			return fmt.Errorf("%w: epoch %q: want a batch size and at least that many images", ErrUsage, m.Args)
		}
		m.batches = []int{b}
	default:
		return fmt.Errorf("%w: want \"bench BATCH[,BATCH...]\" or \"epoch BATCH IMAGES\", got %q %q", ErrUsage, m.Mode, m.Args)
	}
	if m.BLAS == "" {
		m.BLAS = "gemm"
	}
	if m.BLAS != "gemm" && m.BLAS != "gonum" {
		return fmt.Errorf("%w: -blas %q, want gemm or gonum", ErrUsage, m.BLAS)
	}
	if m.Threads < 0 {
		return fmt.Errorf("%w: %d threads", ErrUsage, m.Threads)
	}
	if m.Threads == 0 {
		m.Threads = 2
	}
	if m.Python == "" {
		m.Python = "/usr/bin/python3"
	}
	if m.Out == nil {
		m.Out = io.Discard
	}
	if m.Log == nil {
		m.Log = io.Discard
	}
	return nil
}

// Run checks the peer, finds the data, builds gahpo's side if needed, runs
// gahpo's benchmark then the peer's, and writes the side-by-side lines.
func (m *Main) Run(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	m.choosePeerBLAS()
	fmt.Fprintf(m.Log, "# peer BLAS: %s\n", m.PeerBLAS)
	if err := m.checkPeer(ctx); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gahpo-compare-")
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := m.findPaths(dir); err != nil {
		return err
	}
	bin := m.Gahpo
	if bin == "" {
		if bin, err = m.build(ctx, dir); err != nil {
			return err
		}
	}
	loadBefore := loadAvg()
	gahpoArgs := append([]string{"-blas", m.BLAS, "-data", m.DataDir, m.Mode}, m.Args...)
	gahpo, err := m.side(ctx, "gahpo", m.env(), bin, gahpoArgs...)
	if err != nil {
		return err
	}
	peerArgs := append([]string{m.Peer, m.DataDir, m.Mode}, m.Args...)
	peer, err := m.side(ctx, "pytorch", m.peerEnv(), m.Python, peerArgs...)
	if err != nil {
		return err
	}
	if err := m.report(gahpo, peer); err != nil {
		return err
	}
	fmt.Fprintf(m.Out, "threads=%d loadavg_before=%s loadavg_after=%s pytorch_blas_setup=%s pytorch_blas=%s\n", m.Threads, loadBefore, loadAvg(), m.PeerBLAS, m.peerLib)
	return nil
}

// findPaths sets the MNIST folder and the peer's script when not given:
// the embedded script is written into dir.
func (m *Main) findPaths(dir string) error {
	if m.DataDir == "" {
		dir, err := mnist.FindDir()
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		m.DataDir = dir
	}
	if m.Peer == "" {
		m.Peer = filepath.Join(dir, "torch_mnist.py")
		if err := os.WriteFile(m.Peer, peerScript, 0o644); err != nil {
			return fmt.Errorf("compare: write the peer's script: %w", err)
		}
	}
	if _, err := os.Stat(m.Peer); err != nil {
		return fmt.Errorf("compare: peer's script: %w", err)
	}
	return nil
}

// moduleRoot returns the folder of the gahpo module that holds the working
// directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("the working directory is not inside the gahpo module")
	}
	return filepath.Dir(gomod), nil
}

// build compiles bench/train into dir and returns the binary's path.
func (m *Main) build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", fmt.Errorf("compare: build gahpo (or give -gahpo): %w", err)
	}
	bin := filepath.Join(dir, "train")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/train")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compare: go build ./bench/train: %w\n%s", err, out)
	}
	return bin, nil
}

// side runs one benchmark with environment env, copying its output to
// m.Log, and returns its standard output.
func (m *Main) side(ctx context.Context, name string, env []string, prog string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	cmd.Stdout = io.MultiWriter(&out, m.Log)
	cmd.Stderr = m.Log
	fmt.Fprintf(m.Log, "# %s: %s %s\n", name, prog, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("compare: run %s: %w", name, err)
	}
	return out.Bytes(), nil
}

// loadAvg returns the three load averages of /proc/loadavg joined by
// commas, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ",")
	}
	return "unknown"
}
