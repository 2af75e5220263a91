package regression

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "zero means defaults", cfg: Config{}},
		{name: "typical", cfg: Config{LR: 0.01, BatchSize: 8, Epochs: 100, Folds: 5, Seed: 3}},
		{name: "batch above data size", cfg: Config{BatchSize: 10_000}},
		{name: "max epochs", cfg: Config{Epochs: MaxEpochs}},
		{name: "negative lr", cfg: Config{LR: -0.1}, wantErr: "lr"},
		{name: "NaN lr", cfg: Config{LR: math.NaN()}, wantErr: "lr"},
		{name: "Inf lr", cfg: Config{LR: math.Inf(1)}, wantErr: "lr"},
		{name: "negative batch", cfg: Config{BatchSize: -1}, wantErr: "batch size"},
		{name: "negative epochs", cfg: Config{Epochs: -1}, wantErr: "epochs"},
		{name: "too many epochs", cfg: Config{Epochs: MaxEpochs + 1}, wantErr: "epochs"},
		{name: "one fold", cfg: Config{Folds: 1}, wantErr: "folds"},
		{name: "negative folds", cfg: Config{Folds: -2}, wantErr: "folds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v; want ErrInvalidConfig mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{Seed: 5}.withDefaults()
	want := Config{LR: DefaultLR, BatchSize: DefaultBatchSize, Epochs: DefaultEpochs, Folds: DefaultFolds, Seed: 5}
	if got != want {
		t.Errorf("withDefaults = %+v; want %+v", got, want)
	}
	set := Config{LR: 0.3, BatchSize: 2, Epochs: 7, Folds: 4}
	if got := set.withDefaults(); got != set {
		t.Errorf("withDefaults changed set fields: %+v; want %+v", got, set)
	}
}

func TestConfigFromParams(t *testing.T) {
	tests := []struct {
		name    string
		p       map[string]float64
		want    Config
		wantErr string
	}{
		{
			name: "integers",
			p:    map[string]float64{"lr": 0.01, "batch_size": 16, "epochs": 120},
			want: Config{LR: 0.01, BatchSize: 16, Epochs: 120},
		},
		{
			name: "rounded",
			p:    map[string]float64{"lr": 1e-4, "batch_size": 1.49, "epochs": 299.5},
			want: Config{LR: 1e-4, BatchSize: 1, Epochs: 300},
		},
		{name: "missing lr", p: map[string]float64{"batch_size": 16, "epochs": 120}, wantErr: `missing parameter "lr"`},
		{name: "missing epochs", p: map[string]float64{"lr": 0.1, "batch_size": 16}, wantErr: `missing parameter "epochs"`},
		{name: "unknown", p: map[string]float64{"lr": 0.1, "batch_size": 16, "epochs": 10, "momentum": 0.9, "dropout": 0.1}, wantErr: "unknown parameter(s) dropout, momentum"},
		{name: "zero lr", p: map[string]float64{"lr": 0, "batch_size": 16, "epochs": 10}, wantErr: `"lr"`},
		{name: "NaN epochs", p: map[string]float64{"lr": 0.1, "batch_size": 16, "epochs": math.NaN()}, wantErr: `"epochs"`},
		{name: "batch rounds to 0", p: map[string]float64{"lr": 0.1, "batch_size": 0.4, "epochs": 10}, wantErr: "at least 1"},
		{name: "huge epochs", p: map[string]float64{"lr": 0.1, "batch_size": 1, "epochs": 1e300}, wantErr: "above"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromParams(tt.p)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigFromParams = %+v, %v; want ErrInvalidConfig mentioning %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromParams: %v", err)
			}
			if got != tt.want {
				t.Errorf("ConfigFromParams = %+v; want %+v", got, tt.want)
			}
		})
	}
}
