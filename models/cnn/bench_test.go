package cnn

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkTrain measures training throughput (forward, backward and
// Adadelta step) at the batch sizes of the PyTorch peer, and at 512 (four
// chunks of MaxChunk), and the memory:
// the process's peak RSS so far and the Go runtime's Sys. Run one batch size
// per process for a clean peak RSS:
//
//	go test -run '^$' -bench 'Train/batch=64$' ./models/cnn
func BenchmarkTrain(b *testing.B) {
	train := loadTrain(b)
	for _, batch := range []int{10, 64, 128, 512} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			tr, err := newTrainer(newParams(tensor.Float32, 1), Config{BatchSize: batch, LR: 1, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			set := train.Slice(0, 20*batch)
			idx := make([]int, batch)
			for i := range idx {
				idx[i] = i
			}
			if _, err := tr.step(set, idx); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				for j := range idx {
					idx[j] = (i*batch + j) % set.N
				}
				if _, err := tr.step(set, idx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "img/s")
			reportMemory(b)
		})
	}
}

// BenchmarkEvaluate measures the forward pass alone, at EvalBatch.
func BenchmarkEvaluate(b *testing.B) {
	_, test := loadMNIST(b)
	set := test.Slice(0, 1000)
	e, err := newEvaluator(newParams(tensor.Float32, 1))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		if _, _, err := e.evaluate(context.Background(), set); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*set.N)/time.Since(start).Seconds(), "img/s")
	reportMemory(b)
}

func reportMemory(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss_MB") // Linux reports KiB
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys_MB")
}
