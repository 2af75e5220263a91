package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/models/gemm"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
	}{
		{name: "defaults", args: nil},
		{name: "gonum only", args: []string{"-kernels", "gonum", "-batch", "1"}},
		{name: "unknown kernel", args: []string{"-kernels", "sse"}, wantErr: gemm.ErrKernelUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Main{}
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
			if len(m.Kernels) == 0 || m.Time != time.Second {
				t.Errorf("ParseFlags(%q) gave kernels %v, time %v", tc.args, m.Kernels, m.Time)
			}
		})
	}
}

// TestRunProducts measures every product once per kernel at batch 1 and
// checks the report has a row for each.
func TestRunProducts(t *testing.T) {
	if testing.Short() {
		t.Skip("times the GEMM products: -short")
	}
	var out strings.Builder
	m := &Main{Out: &out, Batch: 1, Time: time.Millisecond}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range cnnProducts(1) {
		for _, k := range gemm.Kernels() {
			found := false
			for _, line := range strings.Split(out.String(), "\n") {
				f := strings.Fields(line)
				if len(f) > 7 && f[0] == p.name && f[6] == k {
					found = true
				}
			}
			if !found {
				t.Errorf("no row for %s with %s in\n%s", p.name, k, out.String())
			}
		}
	}
}

// TestRunCNN trains the CNN on one batch with the chosen kernel, scores 50
// validation images, and checks the report names fc1's forward product.
func TestRunCNN(t *testing.T) {
	if testing.Short() {
		t.Skip("times the CNN's products: -short")
	}
	var out strings.Builder
	m := &Main{Out: &out, CNN: true, Batch: 16, Images: 16, Validation: 50, Kernels: []string{gemm.Kernel()}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// fc1's forward product at batch 16: x (16×9216) times W (9216×128).
	found := false
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " "), "N N 16 128 9216 1 ") {
			found = true
		}
	}
	if !found {
		t.Errorf("report lacks one call of fc1's product:\n%s", out.String())
	}
}
