package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

func TestMain_Full(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN on the full MNIST set: -short")
	}
	out := filepath.Join(t.TempDir(), "w.bin")
	var stdout, stderr bytes.Buffer
	m := NewMain(&stdout, &stderr)
	if err := m.ParseFlags([]string{"-epochs", "2", "-batch", "32", "-train-images", "128", "-test-images", "100", "-out", out}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "epoch  1  lr 1.000000") ||
		!strings.HasPrefix(lines[1], "epoch  2  lr 0.700000") || !strings.HasPrefix(lines[2], "final") {
		t.Errorf("output:\n%s", stdout.String())
	}
	w, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := mnist.Load("")
	if err != nil {
		t.Fatal(err)
	}
	loss, acc, err := cnn.Evaluate(context.Background(), w, test.Slice(0, 100))
	if err != nil {
		t.Fatalf("Evaluate the written weights: %v", err)
	}

	// -eval prints the same figures as the training's last epoch.
	stdout.Reset()
	m = NewMain(&stdout, &stderr)
	if err := m.ParseFlags([]string{"-eval", out, "-test-images", "100"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run -eval: %v", err)
	}
	want := fmt.Sprintf("eval  test_loss %.4f  test_acc %.2f%%  images 100", loss, 100*acc)
	if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(lines[2], fmt.Sprintf("test_loss %.4f  test_acc %.2f%%", loss, 100*acc)) {
		t.Errorf("-eval printed %q, want %q as the training's final line %q", stdout.String(), want, lines[2])
	}
}

func TestMain_Flags(t *testing.T) {
	for _, args := range [][]string{
		{"-batch", "0"},
		{"-lr", "-1"},
		{"-gamma", "2"},
		{"-train-images", "-5"},
		{"extra"},
	} {
		if err := NewMain(&bytes.Buffer{}, &bytes.Buffer{}).ParseFlags(args); err == nil {
			t.Errorf("ParseFlags(%q): no error", args)
		}
	}
}

func TestMain_Fitness(t *testing.T) {
	var stdout bytes.Buffer
	m := NewMain(&stdout, &bytes.Buffer{})
	if err := m.ParseFlags([]string{"-fitness", "-batch", "32", "-train-images", "64"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // only the plumbing is tested here: a cancelled run fails fast
	if err := m.Run(ctx); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancelled fitness: err = %v", err)
	}
}
