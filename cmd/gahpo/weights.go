package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/report"
)

// exportWeights writes the final model of the snapshot's run to file, a
// new file: the bytes its training made, checked against the digest the
// history keeps, or, for a name ending in .npz, the CNN's tensors as
// NumPy arrays under PyTorch's names and shapes.
func (m *Main) exportWeights(s *report.Snapshot, file string) error {
	run := s.Run.ID
	switch {
	case s.Final == nil:
		return fmt.Errorf("export: run %s has no final training yet, so no model (gahpo query runs shows where it is)", run)
	case s.Final.WeightsLost != "":
		return fmt.Errorf("export: run %s kept no model: %s", run, s.Final.WeightsLost)
	case len(s.Weights) == 0 && s.Final.NoModel() != "":
		return fmt.Errorf("export: run %s's final training wrote a model that was not kept: %s", run, s.Final.NoModel())
	case len(s.Weights) == 0:
		return fmt.Errorf("export: run %s's final training left no model (a problem file's command writes it to the file GAHPO_WEIGHTS_FILE names)", run)
	}
	sum := sha256.Sum256(s.Weights)
	digest := hex.EncodeToString(sum[:])
	if want := s.Final.WeightsSHA; want != "" && want != bus.Digest(s.Weights) {
		return fmt.Errorf("export: run %s's model in the history is not the one its training made (its SHA-256 differs): the history file is damaged", run)
	}
	data, what := s.Weights, "as its training wrote it"
	if strings.EqualFold(filepath.Ext(file), ".npz") {
		arrays, err := cnn.PyTorchArrays(s.Weights)
		if err != nil {
			return fmt.Errorf("export: %s: .npz is for the built-in CNN's model (run %s is of problem %q): give another name to write it as stored: %w",
				file, run, s.Run.Config.Problem, err)
		}
		var b bytes.Buffer
		if err := models.WriteNPZ(&b, arrays); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		data, what = b.Bytes(), "as NumPy arrays under PyTorch's names and shapes"
	}
	if err := writeNew(file, data); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(m.Stdout, "wrote run %s's final model (genome %d, %d bytes, SHA-256 %s as stored) to %s, %s\n",
		run, s.Final.GenomeID, len(s.Weights), digest, file, what)
	return nil
}

// writeNew writes data to file, which must not exist yet; a write that
// fails leaves no file behind.
func writeNew(file string, data []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: remove it or name another file", file)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
	}
	return err
}
