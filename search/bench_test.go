package search

import (
	"fmt"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// BenchmarkResult reports the machine's time per result (deciding, not
// storing or publishing) over whole steady-state runs of growing length,
// one-epoch and with successive halving. What still grows with the run:
// halving's proxy check ranks the top rung's genomes on each of their
// results, and a released checkpoint is looked for among every record.
func BenchmarkResult(b *testing.B) {
	for _, fid := range []string{"one-epoch", "halving"} {
		for _, genomes := range []int{500, 2000, 8000} {
			b.Run(fmt.Sprintf("%s/genomes=%d", fid, genomes), func(b *testing.B) {
				rc := runConfig(100, genomes/100)
				rc.Breeding = gahpo.BreedingSteadyState
				if fid == "halving" {
					rc = halving(rc, gahpo.BreedingSteadyState)
				}
				var per time.Duration
				results := 0
				for range b.N {
					m, _ := testMachine(b, rc)
					queue := m.Ready().Publish
					start := time.Now()
					for len(queue) > 0 {
						task := queue[0]
						queue = queue[1:]
						if err := m.Result(answer(task), t0); err != nil {
							b.Fatal(err)
						}
						queue = append(queue, m.Ready().Publish...)
						results++
					}
					per += time.Since(start)
					if !m.Done() {
						b.Fatalf("queue empty but the run is %s", m.Run().Status)
					}
				}
				b.ReportMetric(float64(per.Microseconds())/float64(results), "us/result")
			})
		}
	}
}
