package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// record is one output line of a benchmark: its kind (RESULT, EPOCH, or ""
// for the last, maxrss_mb line) and its key=value fields.
type record struct {
	kind   string
	fields map[string]string
}

// parseOutput returns the records of a benchmark's output, in order; lines
// that are not records are skipped.
func parseOutput(out []byte) []record {
	var recs []record
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		r := record{fields: map[string]string{}}
		if !strings.Contains(f[0], "=") {
			r.kind, f = f[0], f[1:]
		}
		for _, kv := range f {
			if k, v, ok := strings.Cut(kv, "="); ok {
				r.fields[k] = v
			}
		}
		if len(r.fields) > 0 && (r.kind == "" || r.kind == "RESULT" || r.kind == "EPOCH") {
			recs = append(recs, r)
		}
	}
	return recs
}

// find returns the first record of kind whose field key is value (any
// value when key is ""), holding every one of want.
func find(recs []record, kind, key, value string, want ...string) (record, error) {
	for _, r := range recs {
		if r.kind != kind || (key != "" && r.fields[key] != value) {
			continue
		}
		for _, w := range want {
			if _, ok := r.fields[w]; !ok {
				return record{}, fmt.Errorf("%w: %s line without %s", ErrOutput, kind, w)
			}
		}
		return r, nil
	}
	if kind == "" {
		return record{}, fmt.Errorf("%w: no %s line", ErrOutput, strings.Join(want, ", "))
	}
	return record{}, fmt.Errorf("%w: no %s line with %s=%s", ErrOutput, kind, key, value)
}

// float returns field k of r as a number.
func (r record) float(k string) (float64, error) {
	v, err := strconv.ParseFloat(r.fields[k], 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q: %w", ErrOutput, k, r.fields[k], err)
	}
	return v, nil
}

// report writes the side-by-side lines from both sides' outputs.
func (m *Main) report(gahpoOut, peerOut []byte) error {
	sides := [2][]record{parseOutput(gahpoOut), parseOutput(peerOut)}
	names := [2]string{"gahpo", "pytorch"}
	for _, b := range m.batches {
		var rs [2]record
		for i, recs := range sides {
			var err error
			kind, want := "RESULT", []string{"img_per_s"}
			if m.Mode == "epoch" {
				kind, want = "EPOCH", []string{"img_per_s", "train_s", "test_acc", "images"}
			}
			if rs[i], err = find(recs, kind, "batch", strconv.Itoa(b), want...); err != nil {
				return fmt.Errorf("%s: %w", names[i], err)
			}
		}
		var rate [2]float64
		for i, r := range rs {
			var err error
			if rate[i], err = r.float("img_per_s"); err != nil {
				return fmt.Errorf("%s: %w", names[i], err)
			}
		}
		if m.Mode == "epoch" {
			fmt.Fprintf(m.Out, "epoch batch=%d images=%s gahpo_train_s=%s pytorch_train_s=%s gahpo_img_s=%.1f pytorch_img_s=%.1f ratio=%.2f gahpo_test_acc=%s pytorch_test_acc=%s\n",
				b, rs[0].fields["images"], rs[0].fields["train_s"], rs[1].fields["train_s"], rate[0], rate[1], rate[0]/rate[1],
				rs[0].fields["test_acc"], rs[1].fields["test_acc"])
			continue
		}
		line := fmt.Sprintf("batch=%d gahpo_img_s=%.1f pytorch_img_s=%.1f ratio=%.2f", b, rate[0], rate[1], rate[0]/rate[1])
		// gahpo's share of its GEMM's speed, when its side measured it.
		for _, k := range []string{"ceiling_fraction", "cpu_pct"} {
			if v, ok := rs[0].fields[k]; ok {
				line += fmt.Sprintf(" gahpo_%s=%s", k, v)
			}
		}
		fmt.Fprintln(m.Out, line)
	}
	var rss [2]string
	for i, recs := range sides {
		r, err := find(recs, "", "", "", "maxrss_mb")
		if err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		rss[i] = r.fields["maxrss_mb"]
	}
	fmt.Fprintf(m.Out, "gahpo_maxrss_mb=%s pytorch_maxrss_mb=%s\n", rss[0], rss[1])
	return nil
}
