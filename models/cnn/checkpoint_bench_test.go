package cnn

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// fullState returns the state of a network after some training: random
// weights and optimiser averages of every tensor.
func fullState() *state {
	p := newParams(tensor.Float32, 1)
	r := rand.New(rand.NewPCG(1, 2))
	st := &state{identity: identity(runConfig, &mnist.Set{}), done: 3, lr: 0.49, weights: p,
		sq: make([]any, len(specs)), acc: make([]any, len(specs))}
	for i, s := range specs {
		v, u := make([]float32, s.shape.TotalSize()), make([]float32, s.shape.TotalSize())
		for j := range v {
			v[j], u[j] = r.Float32(), r.Float32()
		}
		st.sq[i], st.acc[i] = v, u
	}
	st.shuffle, _ = rand.NewPCG(1, streamShuffle).MarshalBinary()
	st.dropout, _ = rand.NewPCG(1, streamDropout).MarshalBinary()
	return st
}

// BenchmarkCheckpoint measures the CNN's state file: its size, writing it
// (serialise, write, fsync, rename), the training set's checksum that
// every Train computes, and reading the file back (read, check, parse).
//
//	go test -run '^$' -bench Checkpoint -benchtime 10x ./models/cnn
func BenchmarkCheckpoint(b *testing.B) {
	st := fullState()
	dir := b.TempDir()
	b.Run("write", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if err := saveState(dir, st); err != nil {
				b.Fatal(err)
			}
		}
		info, err := os.Stat(filepath.Join(dir, StateFile))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size())/1e6, "MB")
		b.SetBytes(info.Size())
	})
	b.Run("identity/54000-images", func(b *testing.B) {
		train := loadTrain(b).Slice(0, 54000)
		defer cpuPerOp(b)()
		for b.Loop() {
			identity(runConfig, train)
		}
		b.SetBytes(int64(len(train.Pixels) + len(train.Labels)))
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(st.marshal())))
		defer cpuPerOp(b)()
		for b.Loop() {
			got, err := loadState(dir)
			if err != nil || got == nil {
				b.Fatalf("load: %v (state %v)", err, got)
			}
		}
	})
}

// cpuPerOp starts measuring the process's CPU time (user and system, all
// threads); the function it returns reports it per operation, a figure
// that the machine's load inflates less than the wall time.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/1e6/float64(b.N), "cpu_ms/op") }
}

// TestStateRoundTrip reads back a written state file: the same bytes again,
// and the size of three float32 values (weight, two averages) per
// parameter plus a small header.
func TestStateRoundTrip(t *testing.T) {
	st := fullState()
	dir := t.TempDir()
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, again := st.marshal(), got.marshal()
	if !bytes.Equal(data, again) {
		t.Error("a state read back serialises differently")
	}
	params := 0
	for _, s := range specs {
		params += s.shape.TotalSize()
	}
	if extra := len(data) - 12*params; extra < 0 || extra > 1024 {
		t.Errorf("state of %d bytes for %d parameters: %d bytes of overhead", len(data), params, extra)
	}
	t.Logf("state file: %d bytes for %d parameters", len(data), params)
}
