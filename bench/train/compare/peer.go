package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// OpenMPBLASDir is where Debian's libopenblas0-openmp puts its
// libblas.so.3: OpenBLAS threaded with OpenMP, which shares PyTorch's
// OpenMP threads instead of competing with them.
const OpenMPBLASDir = "/usr/lib/x86_64-linux-gnu/openblas-openmp"

// PthreadBLASDir is where Debian's libopenblas0-pthread puts its
// libblas.so.3: OpenBLAS with its own threads.
const PthreadBLASDir = "/usr/lib/x86_64-linux-gnu/openblas-pthread"

// InstallOpenMPBLAS is the command that installs OpenMPBLASDir.
const InstallOpenMPBLAS = "apt-get install -y libopenblas0-openmp"

// peerBLASDirs are the BLAS set-ups the peer may load, fastest first (see
// the package doc for the figures); the system's libblas.so.3 alternative
// comes after them.
var peerBLASDirs = []string{OpenMPBLASDir, PthreadBLASDir}

// peerProbe imports what the peer imports and prints the paths of the
// BLAS libraries the process loaded, comma-separated, in the order of the
// memory map.
const peerProbe = `import torch, numpy
libs = []
for l in open("/proc/self/maps"):
    f = l.split()
    if len(f) > 5 and "blas" in f[-1].rsplit("/", 1)[-1].lower() and f[-1] not in libs:
        libs.append(f[-1])
print(",".join(libs) or "unknown")`

// choosePeerBLAS fills in m.PeerBLAS's default: the fastest set-up of
// peerBLASDirs installed here (whose folder holds a libblas.so.3), else
// "system".
func (m *Main) choosePeerBLAS() {
	if m.PeerBLAS != "" {
		return
	}
	m.PeerBLAS = "system"
	for _, dir := range peerBLASDirs {
		if _, err := os.Stat(filepath.Join(dir, "libblas.so.3")); err == nil {
			m.PeerBLAS = dir
			return
		}
	}
}

// env returns the environment of both sides: this process's, with the
// threads of Go, PyTorch and OpenMP set to m.Threads.
func (m *Main) env() []string {
	n := strconv.Itoa(m.Threads)
	return append(os.Environ(), "GOMAXPROCS="+n, "TORCH_THREADS="+n, "OMP_NUM_THREADS="+n)
}

// peerEnv returns the peer's environment: env, with m.PeerBLAS first in
// LD_LIBRARY_PATH unless it is "system".
func (m *Main) peerEnv() []string {
	env := m.env()
	if m.PeerBLAS == "system" {
		return env
	}
	path := m.PeerBLAS
	if old := os.Getenv("LD_LIBRARY_PATH"); old != "" {
		path += string(os.PathListSeparator) + old
	}
	return append(env, "LD_LIBRARY_PATH="+path)
}

// checkPeer reports ErrNoPeer, with the command that installs it, when
// m.Python cannot import torch and numpy; otherwise it records the BLAS
// library the peer loads, and warns on m.Log about those measured here to
// slow PyTorch down.
func (m *Main) checkPeer(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, m.Python, "-c", peerProbe)
	cmd.Env = m.peerEnv()
	out, err := cmd.CombinedOutput()
	msg := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if err != nil {
		if msg != "" {
			msg = " (" + msg + ")"
		}
		return fmt.Errorf("%w: %s cannot import torch and numpy%s: install them, as root, with: %s: %w",
			ErrNoPeer, m.Python, msg, InstallPeer, err)
	}
	m.peerLib = msg
	switch {
	case strings.Contains(m.peerLib, "/blas/libblas"):
		fmt.Fprintf(m.Log, "# warning: the peer runs on the reference BLAS (%s), several times slower in its linear layers; "+
			"the peer of shared/NOTES.md used OpenBLAS: %s\n", m.peerLib, InstallOpenMPBLAS)
	case strings.Contains(m.peerLib, "/openblas-pthread/"):
		fmt.Fprintf(m.Log, "# warning: the peer runs on OpenBLAS's own threads (%s), which compete with PyTorch's OpenMP threads; "+
			"OpenMP's OpenBLAS avoids that: %s\n", m.peerLib, InstallOpenMPBLAS)
	}
	return nil
}
