package cnn

import (
	"context"
	"fmt"
	"math/rand/v2"
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
			if _, err := tr.step(set, idx, 0); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				for j := range idx {
					idx[j] = (i*batch + j) % set.N
				}
				if _, err := tr.step(set, idx, 0); err != nil {
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

// cpuTime returns the CPU time the process has used, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkFusedVsLayered trains two networks from the same weights in
// one process, one with the fused feature extractor (forward, as
// training does) and one with an op per layer (forwardLayered), in
// alternating rounds of a few steps, so that both see the same load; it
// reports each one's images/s, their ratio and the heap bytes and objects
// each allocates per step:
//
//	go test -run '^$' -bench FusedVsLayered -benchtime 40x ./models/cnn
func BenchmarkFusedVsLayered(b *testing.B) {
	train := loadTrain(b)
	for _, batch := range []int{10, 64, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			cfg := Config{BatchSize: batch, LR: 1, Seed: 1}
			var trs [2]*trainer
			for i, fwd := range []forwardFunc{forward, forwardLayered} {
				tr, err := newTrainerOf(newParams(tensor.Float32, 1), cfg, fwd)
				if err != nil {
					b.Fatal(err)
				}
				trs[i] = tr
			}
			set := train.Slice(0, 20*batch)
			idx := make([]int, batch)
			var elapsed, cpu [2]time.Duration
			var bytes, objects [2]uint64
			var steps [2]int
			step := func(w, i int) {
				for j := range idx {
					idx[j] = (i*batch + j) % set.N
				}
				if _, err := trs[w].step(set, idx, 0); err != nil {
					b.Fatal(err)
				}
			}
			for w := range trs { // warm-up
				step(w, 0)
			}
			const round = 4
			var ms runtime.MemStats
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				w := i / round % 2
				runtime.ReadMemStats(&ms)
				b0, o0 := ms.TotalAlloc, ms.Mallocs
				c0 := cpuTime()
				start := time.Now()
				step(w, i)
				elapsed[w] += time.Since(start)
				cpu[w] += cpuTime() - c0
				runtime.ReadMemStats(&ms)
				bytes[w] += ms.TotalAlloc - b0
				objects[w] += ms.Mallocs - o0
				steps[w]++
			}
			if steps[0] == 0 || steps[1] == 0 {
				return
			}
			var rate [2]float64
			for w := range rate {
				rate[w] = float64(steps[w]*batch) / elapsed[w].Seconds()
			}
			b.ReportMetric(rate[0], "fused_img/s")
			b.ReportMetric(rate[1], "layered_img/s")
			b.ReportMetric(rate[0]/rate[1], "fused/layered")
			// CPU time per image: what a step costs when other processes
			// keep the cores busy anyway (wall time then measures the load).
			b.ReportMetric(cpu[0].Seconds()*1e6/float64(steps[0]*batch), "fused_cpu_us/img")
			b.ReportMetric(cpu[1].Seconds()*1e6/float64(steps[1]*batch), "layered_cpu_us/img")
			b.ReportMetric(float64(bytes[0])/float64(steps[0]), "fused_B/step")
			b.ReportMetric(float64(bytes[1])/float64(steps[1]), "layered_B/step")
			b.ReportMetric(float64(objects[0])/float64(steps[0]), "fused_allocs/step")
		})
	}
}

// BenchmarkPoolGrad compares the max-pool gradient of one conv2 output
// (24×24×64, ReLU) with vec.PoolGrad and with the branch-free Go loop
// (poolBackward32), alternating in one benchmark:
//
//	go test -run '^$' -bench PoolGrad ./models/cnn
func BenchmarkPoolGrad(b *testing.B) {
	const h, w, c = 24, 24, 64
	r := rand.New(rand.NewPCG(1, 1))
	x, dy := random(r, tensor.Float32, h*w*c).Data().([]float32), random(r, tensor.Float32, h*w*c/4).Data().([]float32)
	dx := make([]float32, h*w*c)
	goLoop := func() {
		ph, pw := h/2, w/2
		for py := range ph {
			for px := range pw {
				win := window(py, px, w, c)
				poolBackward32(dx[win[0]:][:c], dx[win[1]:][:c], dx[win[2]:][:c], dx[win[3]:][:c],
					x[win[0]:][:c], x[win[1]:][:c], x[win[2]:][:c], x[win[3]:][:c], dy[py*pw+px:], ph*pw, true)
			}
		}
	}
	var t [2]time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if i%2 == 0 {
			poolGradImage32(dx, x, dy, h, w, c, true)
		} else {
			goLoop()
		}
		t[i%2] += time.Since(start)
	}
	if t[0] > 0 && t[1] > 0 {
		b.ReportMetric(t[1].Seconds()/t[0].Seconds(), "go/vec")
	}
}

// BenchmarkConv2 compares, on one image, conv2's forward pass (26×26×32 →
// 24×24×64) with its windows written out by im2col and then multiplied
// against gemm.Conv3x3 reading them from the image; its input gradient
// through a written-out product and col2im against gemm.Conv3x3Back adding
// the product's tiles onto the windows; the 2×2 max-pool after it, the
// Go loop against vec.Pool; and both, with the bias written into the
// product's output first against the bias added by the max-pool to a
// quarter of the values: each pair alternating in one benchmark.
//
//	go test -run '^$' -bench Conv2 ./models/cnn
func BenchmarkConv2(b *testing.B) {
	g := convGeom{b: 1, h: 26, w: 26, cin: 32, cout: 64, oh: 24, ow: 24}
	r := rand.New(rand.NewPCG(2, 2))
	x := random(r, tensor.Float32, g.inSize()).Data().([]float32)
	wm := random(r, tensor.Float32, g.k()*g.cout).Data().([]float32)
	wc := random(r, tensor.Float32, g.k()*g.cout).Data().([]float32)
	bias := random(r, tensor.Float32, g.cout).Data().([]float32)
	dz := random(r, tensor.Float32, g.outSize()).Data().([]float32)
	dx := make([]float32, g.inSize())
	o := make([]float32, g.outSize())
	col := make([]float32, g.pix()*g.k())
	pooled := make([]float32, g.outSize()/4)
	steps := []func(){
		func() { // im2col, then the product
			fillRows(o, bias)
			im2col(col, x, g)
			matmul(false, false, g.pix(), g.cout, g.k(), col, g.k(), wm, g.cout, 1, o, g.cout)
		},
		func() { // the windows read in place
			fillRows(o, bias)
			if !convDirect(o, x, wm, g, 1) {
				b.Skip("no gemm kernel reads the windows on this CPU")
			}
		},
		func() { // the product written out, then col2im
			clear(dx)
			matmul(false, false, g.pix(), g.k(), g.cout, dz, g.cout, wc, g.k(), 0, col, g.k())
			col2im(dx, col, g)
		},
		func() { // the product's tiles added onto the windows
			clear(dx)
			addInputGrad(dx, dz, wc, col, g)
		},
		func() { // the max-pool's Go loop
			ph, pw := g.oh/2, g.ow/2
			for py := range ph {
				for px := range pw {
					win := window(py, px, g.ow, g.cout)
					dst := pooled[py*pw+px:]
					for ch, m := range o[win[0]:][:g.cout] {
						dst[ch*ph*pw] = max(m, o[win[1]+ch], o[win[2]+ch], o[win[3]+ch], 0)
					}
				}
			}
		},
		func() { poolImage32(pooled, o, nil, g.oh, g.ow, g.cout, 0) },
		func() { // the bias in the product's output, then the max-pool
			fillRows(o, bias)
			convDirect(o, x, wm, g, 1)
			poolImage32(pooled, o, nil, g.oh, g.ow, g.cout, 0)
		},
		func() { // the bias added by the max-pool
			convDirect(o, x, wm, g, 0)
			poolImage32(pooled, o, bias, g.oh, g.ow, g.cout, 0)
		},
	}
	var t [8]time.Duration
	for i := 0; b.Loop(); i++ {
		w := i % len(steps)
		start := time.Now()
		steps[w]()
		t[w] += time.Since(start)
	}
	if n := float64(b.N / len(steps)); n > 0 {
		us := func(d time.Duration) float64 { return d.Seconds() * 1e6 / n }
		b.ReportMetric(us(t[0]), "fwd_im2col_us")
		b.ReportMetric(us(t[1]), "fwd_direct_us")
		b.ReportMetric(t[0].Seconds()/t[1].Seconds(), "fwd_im2col/direct")
		b.ReportMetric(us(t[2]), "dx_col2im_us")
		b.ReportMetric(us(t[3]), "dx_direct_us")
		b.ReportMetric(t[2].Seconds()/t[3].Seconds(), "dx_col2im/direct")
		b.ReportMetric(t[4].Seconds()/t[5].Seconds(), "pool_go/vec")
		b.ReportMetric(us(t[6]), "fwd_pool_bias_first_us")
		b.ReportMetric(us(t[7]), "fwd_pool_bias_in_pool_us")
		b.ReportMetric(t[6].Seconds()/t[7].Seconds(), "bias_first/in_pool")
	}
}
