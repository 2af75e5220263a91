package worker

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models/mnist"
)

// BenchmarkDataSetIntact measures the check of a cached data set before
// each task and after each training (dataSet.intact): MNIST's four files,
// 11.6 MB, read and hashed whole.
//
//	go test -run '^$' -bench DataSetIntact ./worker
func BenchmarkDataSetIntact(b *testing.B) {
	dir, err := mnist.FindDir()
	if err != nil {
		b.Skip(err)
	}
	var set dataSet
	var bytes int64
	for _, name := range mnist.Files {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		d, err := bus.DigestFile(path)
		if err != nil {
			b.Fatal(err)
		}
		set.files = append(set.files, fileStamp{path: path, digest: d, size: fi.Size()})
		bytes += fi.Size()
	}
	b.SetBytes(bytes)
	start := time.Now()
	for b.Loop() {
		if err := set.intact(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(start).Seconds()*1000/float64(b.N), "ms/check")
}
