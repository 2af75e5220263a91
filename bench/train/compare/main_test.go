package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		wantBatches []int
		wantErr     error
	}{
		{name: "bench", args: []string{"bench", "10,64,128"}, wantBatches: []int{10, 64, 128}},
		{name: "epoch", args: []string{"-threads", "1", "epoch", "64", "60000"}, wantBatches: []int{64}},
		{name: "no mode", args: nil, wantErr: ErrUsage},
		{name: "batch 0", args: []string{"bench", "0"}, wantErr: ErrUsage},
		{name: "epoch without images", args: []string{"epoch", "64"}, wantErr: ErrUsage},
		{name: "epoch shorter than a batch", args: []string{"epoch", "64", "10"}, wantErr: ErrUsage},
		{name: "unknown BLAS", args: []string{"-blas", "mkl", "bench", "64"}, wantErr: ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Main
			err := m.ParseFlags(tc.args)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseFlags(%q) = %v, want %v", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFlags(%q) = %v", tc.args, err)
			}
			if !slices.Equal(m.batches, tc.wantBatches) {
				t.Errorf("ParseFlags(%q) batches %v, want %v", tc.args, m.batches, tc.wantBatches)
			}
		})
	}
}

// Outputs in the two sides' formats (bench/train and torch_mnist.py).
const (
	gahpoBench = `RESULT peer=gahpo version=go1.26.8 blas=gemm kernel=avx512 threads=2 batch=10 img_per_s=300.0 min=290.0 max=310.0 loss=2.152
RESULT peer=gahpo version=go1.26.8 blas=gemm kernel=avx512 threads=2 batch=64 img_per_s=800.0 min=700.0 max=900.0 loss=0.990 cpu_pct=190 gflops=57.3 ceiling_gflops=80.0 ceiling_fraction=0.716
maxrss_mb=873
`
	peerBench = `RESULT peer=pytorch version=1.13.0a0 threads=2 batch=10 img_per_s=600.0 min=20.9 max=642.2 loss=0.642
RESULT peer=pytorch version=1.13.0a0 threads=2 batch=64 img_per_s=1000.0 min=79.7 max=1103.0 loss=0.291
maxrss_mb=811
`
	gahpoEpoch = `EPOCH peer=gahpo version=go1.26.8 blas=gemm kernel=avx512 threads=2 batch=64 images=59968 train_s=100.0 img_per_s=599.7 last_loss=0.1 test_loss=0.0500 test_acc=98.40
maxrss_mb=900
`
	peerEpoch = `EPOCH peer=pytorch batch=64 images=59968 train_s=50.0 img_per_s=1199.4 last_loss=0.050 test_acc=98.30
maxrss_mb=800
`
)

func TestReport(t *testing.T) {
	tests := []struct {
		name        string
		mode        string
		args        []string
		gahpo, peer string
		want        string
		wantErr     error
	}{
		{
			name: "bench", mode: "bench", args: []string{"10,64"}, gahpo: gahpoBench, peer: peerBench,
			want: "batch=10 gahpo_img_s=300.0 pytorch_img_s=600.0 ratio=0.50\n" +
				"batch=64 gahpo_img_s=800.0 pytorch_img_s=1000.0 ratio=0.80 gahpo_ceiling_fraction=0.716 gahpo_cpu_pct=190\n" +
				"gahpo_maxrss_mb=873 pytorch_maxrss_mb=811\n",
		},
		{
			name: "epoch", mode: "epoch", args: []string{"64", "60000"}, gahpo: gahpoEpoch, peer: peerEpoch,
			want: "epoch batch=64 images=59968 gahpo_train_s=100.0 pytorch_train_s=50.0 gahpo_img_s=599.7 pytorch_img_s=1199.4 ratio=0.50 gahpo_test_acc=98.40 pytorch_test_acc=98.30\n" +
				"gahpo_maxrss_mb=900 pytorch_maxrss_mb=800\n",
		},
		{name: "batch size missing on one side", mode: "bench", args: []string{"10,128"}, gahpo: gahpoBench, peer: peerBench, wantErr: ErrOutput},
		{name: "no peak RSS", mode: "bench", args: []string{"10"}, gahpo: gahpoBench, peer: strings.Split(peerBench, "\n")[0], wantErr: ErrOutput},
		{name: "bench output for an epoch", mode: "epoch", args: []string{"64", "60000"}, gahpo: gahpoBench, peer: peerBench, wantErr: ErrOutput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			m := &Main{Out: &out, Mode: tc.mode, Args: tc.args}
			if err := m.validate(); err != nil {
				t.Fatal(err)
			}
			err := m.report([]byte(tc.gahpo), []byte(tc.peer))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("report = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("report wrote\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}

// TestRunWithoutPeer checks that an interpreter that cannot import torch
// stops the comparison with the command that installs the peer.
func TestRunWithoutPeer(t *testing.T) {
	m := &Main{Mode: "bench", Args: []string{"10"}, Python: "false"}
	err := m.Run(context.Background())
	if !errors.Is(err, ErrNoPeer) || !strings.Contains(err.Error(), InstallPeer) {
		t.Fatalf("Run with a Python without torch = %v, want %v naming %q", err, ErrNoPeer, InstallPeer)
	}
}

// TestRun builds gahpo's side, runs both sides at batch size 2 and checks
// the side-by-side lines. It needs /usr/bin/python3 with torch and numpy.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bench/train and runs PyTorch")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("no PyTorch peer (%v): %s", err, InstallPeer)
	}
	var out, log strings.Builder
	m := &Main{Out: &out, Log: &log, Mode: "bench", Args: []string{"2"}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "batch=2 gahpo_img_s=") || !strings.Contains(lines[0], " ratio=") ||
		!strings.HasPrefix(lines[1], "gahpo_maxrss_mb=") || !strings.HasPrefix(lines[2], "threads=2 loadavg_before=") ||
		!strings.Contains(lines[2], " pytorch_blas_setup=") {
		t.Errorf("Run wrote\n%s\nwant a batch=2 line, the peak RSS, the load and the peer's BLAS", out.String())
	}
	for _, want := range []string{"RESULT peer=gahpo", "RESULT peer=pytorch", "threads=2 batch=2"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the sides' output lacks %q:\n%s", want, log.String())
		}
	}
}

func TestPeerEnv(t *testing.T) {
	t.Setenv("LD_LIBRARY_PATH", "/opt/lib")
	tests := []struct {
		peerBLAS, want string
	}{
		{"system", "LD_LIBRARY_PATH=/opt/lib"},
		{"/usr/lib/x86_64-linux-gnu/openblas-openmp", "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp:/opt/lib"},
	}
	for _, tc := range tests {
		m := &Main{Threads: 3, PeerBLAS: tc.peerBLAS}
		env := m.peerEnv()
		var got string
		for _, kv := range env { // the last setting wins, as in exec
			if strings.HasPrefix(kv, "LD_LIBRARY_PATH=") {
				got = kv
			}
		}
		if got != tc.want {
			t.Errorf("peerEnv with -peer-blas %q sets %q, want %q", tc.peerBLAS, got, tc.want)
		}
		for _, want := range []string{"GOMAXPROCS=3", "TORCH_THREADS=3", "OMP_NUM_THREADS=3"} {
			if !slices.Contains(env, want) {
				t.Errorf("peerEnv with -peer-blas %q lacks %s", tc.peerBLAS, want)
			}
		}
	}
}

// TestChoosePeerBLAS checks that compare picks the first installed set-up
// of its list, fastest first, and the system's when none is, and keeps one
// given with -peer-blas.
func TestChoosePeerBLAS(t *testing.T) {
	fast, slow, missing := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "none")
	for _, dir := range []string{fast, slow} {
		if err := os.WriteFile(filepath.Join(dir, "libblas.so.3"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defer func(saved []string) { peerBLASDirs = saved }(peerBLASDirs)
	tests := []struct {
		name  string
		dirs  []string
		given string
		want  string
	}{
		{"fastest installed", []string{fast, slow}, "", fast},
		{"first missing", []string{missing, slow}, "", slow},
		{"none installed", []string{missing}, "", "system"},
		{"given", []string{fast, slow}, "/opt/blas", "/opt/blas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peerBLASDirs = tc.dirs
			m := &Main{PeerBLAS: tc.given}
			m.choosePeerBLAS()
			if m.PeerBLAS != tc.want {
				t.Errorf("PeerBLAS = %q, want %q", m.PeerBLAS, tc.want)
			}
		})
	}
}

// TestPeerScriptEmbedded checks that compare carries the peer it runs by
// default and writes it out for the interpreter.
func TestPeerScriptEmbedded(t *testing.T) {
	for _, want := range []string{"Provenance:", "class Net(nn.Module)", "RESULT peer=pytorch", "EPOCH peer=pytorch"} {
		if !strings.Contains(string(peerScript), want) {
			t.Errorf("the embedded peer lacks %q", want)
		}
	}
	m := &Main{DataDir: t.TempDir()}
	dir := t.TempDir()
	if err := m.findPaths(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(m.Peer)
	if err != nil || string(got) != string(peerScript) || filepath.Dir(m.Peer) != dir {
		t.Errorf("findPaths wrote the peer to %s (%v), want the embedded script in %s", m.Peer, err, dir)
	}
}
