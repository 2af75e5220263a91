package main

import (
	"fmt"
	"io"
	"math"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/search"
)

func epochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}

// measured prints a figure of an epoch, "-" where it was not measured (a
// multi-fidelity genome meets the test set from its second rung on).
func measured(f gahpo.Float) string {
	if math.IsNaN(float64(f)) {
		return "-"
	}
	return fmtFloat(f)
}

// printProxy prints the proxy check of a halving run: how well each rung's
// ranking agrees with the top rung's (Spearman), with a warning where it
// is low.
func printProxy(w io.Writer, run gahpo.Run) {
	if len(run.Proxy) == 0 {
		printPeak(w, run) // population based training: no proxy check
		return
	}
	rungs := run.Config.RungEpochs()
	fmt.Fprintf(w, "\nproxy check: rank correlation of each rung with the top rung (%s)\n", epochs(rungs[len(rungs)-1]))
	for _, p := range run.Proxy {
		line := fmt.Sprintf("  rung %d (%s): Spearman %.3f over %d genomes", p.Rung, epochs(p.Epochs), float64(p.Spearman), p.Genomes)
		if p.Genomes >= search.MinProxyGenomes && float64(p.Spearman) < search.LowProxy {
			line += " — LOW: this rung ranks genomes unlike full training; raise --min-epochs"
		}
		fmt.Fprintln(w, line)
	}
	printPeak(w, run)
}

// printPeak prints the most space a run's checkpoints took, if it kept any.
func printPeak(w io.Writer, run gahpo.Run) {
	if run.CheckpointPeak > 0 {
		fmt.Fprintf(w, "checkpoints kept between rungs took at most %s\n", bytesize(run.CheckpointPeak))
	}
}

// bytesize prints a size in B, kB, MB or GB (powers of 1000).
func bytesize(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
