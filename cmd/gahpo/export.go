package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/report"
)

// exportRow is one genome of `gahpo export`: durations in seconds,
// generations counted from 1, a failed genome's fitness null (empty in CSV).
type exportRow struct {
	Run          string             `json:"run"`
	Genome       int                `json:"genome_id"`
	Generation   int                `json:"generation"`
	Status       string             `json:"status"` // as the views show it: "stopped" for a PBT genome that lost its place
	Fitness      *float64           `json:"fitness"`
	Accuracy     *float64           `json:"accuracy"` // null (an empty cell) when the problem measures none
	Epochs       int                `json:"epochs"`
	Rung         int                `json:"rung"`
	Worker       string             `json:"worker"`
	DurationS    float64            `json:"duration_s"`
	ImagesPerSec float64            `json:"images_per_sec"`
	Attempts     int                `json:"attempts"`
	Parents      []int              `json:"parents"`
	Ops          []string           `json:"ops"`
	DuplicateOf  int                `json:"duplicate_of"`
	Seed         uint64             `json:"seed"`
	Finished     string             `json:"finished"` // RFC 3339, "" when queued
	Failure      string             `json:"failure"`
	Params       map[string]float64 `json:"params"`
	// Choices are the values of the choice parameters, whose Params are
	// their indexes (the CSV's param_ cells show the values).
	Choices map[string]string `json:"choices,omitempty"`
	// A genome confirmed on more seeds: its replicates' fitnesses (null
	// while one trains or when it failed) and the mean over all its
	// trainings (null until every one is back, or when one failed).
	Replicates       []*float64 `json:"replicates"`
	ConfirmedFitness *float64   `json:"confirmed_fitness"`
	// A problem file's run: its objective's name and the genome's value of
	// it in its own sign (Fitness, which the search minimises, is a
	// maximised objective negated), null when Fitness is. The CSV's column
	// of the value is named by the objective.
	Objective      string   `json:"objective,omitempty"`
	ObjectiveValue *float64 `json:"objective_value,omitempty"`
}

func newExportRow(run string, rc gahpo.RunConfig, g gahpo.GenomeRecord) exportRow {
	r := exportRow{
		Run: run, Genome: g.ID, Generation: g.Generation + 1, Status: report.GenomeStatus(g), Epochs: g.Epochs,
		Rung: g.Rung, Worker: g.Worker, DurationS: g.Duration.Seconds(), ImagesPerSec: g.ImagesPerSec, Attempts: g.Attempts,
		Parents: g.Parents, Ops: g.Ops, DuplicateOf: g.DuplicateOf, Seed: g.Seed, Failure: g.Failure, Params: g.Params,
		Choices: g.Choices,
	}
	if g.Accuracy != 0 {
		r.Accuracy = &g.Accuracy
	}
	r.Fitness = finite(g.Evaluated(), g.Fitness)
	if rc.Objective != "" {
		r.Objective = rc.Objective
		r.ObjectiveValue = finite(g.Evaluated(), rc.Shown(g.Fitness))
	}
	r.Replicates = []*float64{}
	for _, rep := range g.Replicates {
		r.Replicates = append(r.Replicates, finite(rep.Status != gahpo.GenomeQueued, rep.Fitness))
	}
	if g.ConfirmedFitness != nil {
		r.ConfirmedFitness = finite(true, *g.ConfirmedFitness)
	}
	if !g.Finished.IsZero() {
		r.Finished = g.Finished.UTC().Format(time.RFC3339Nano)
	}
	if r.Parents == nil {
		r.Parents = []int{}
	}
	if r.Ops == nil {
		r.Ops = []string{}
	}
	return r
}

// finite returns f when it is a result and finite, else nil (null, or an
// empty CSV cell).
func finite(result bool, f gahpo.Float) *float64 {
	v := float64(f)
	if !result || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func (m *Main) runExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo export", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: gahpo export (--db FILE | --nats URL) --format csv|jsonl [--run ID] > genomes.csv\n"+
			"       gahpo export --db FILE [--run ID] --weights model.bin|model.npz\n\n"+
			"Prints one row per genome: params (a choice by its value in CSV; jsonl has the index in params and the value in\n"+
			"choices), fitness (empty/null when failed), accuracy (empty/null when the problem measures none), epochs, rung,\n"+
			"status (stopped: a population based training's genome that lost its place), worker, durations in seconds,\n"+
			"lineage, replicates and confirmed fitness (--confirm-seeds), and, for a problem file, its objective in its own\n"+
			"sign (a maximised one's fitness is its value negated; CSV: a column named by the objective, jsonl:\n"+
			"objective_value). Generations count from 1.\n"+
			"With --weights, writes the run's final model instead (see --weights).\n\nFlags:")
		fs.PrintDefaults()
	}
	var nf natsFlags
	nf.register(fs, false)
	db := fs.String("db", "gahpo.db", "history database file; --nats reads a running coordinator instead (a --db given wins over GAHPO_NATS)")
	run := fs.String("run", "", "run id (default: the latest run)")
	format := fs.String("format", "csv", "csv or jsonl")
	weights := fs.String("weights", "", "write the run's final model to this new `file` instead of rows: the bytes its training made "+
		"(a problem file's trainer's own format), or, for a name ending in .npz, the CNN's tensors as NumPy arrays under PyTorch's names and shapes")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := nf.readHistory(fs); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("export: unexpected argument %q", pos[0])
	}
	if *format != "csv" && *format != "jsonl" {
		return fmt.Errorf("export: unknown --format %q (csv or jsonl)", *format)
	}
	if *weights != "" && nf.url != "" {
		return errors.New("export: --weights reads the model from the history file: give --db (a coordinator serves no model over NATS)")
	}
	src, release, err := m.reportSource(ctx, "export", nf, *db, *run)
	if err != nil {
		return err
	}
	defer release()
	s, err := src.Snapshot(ctx)
	if err != nil {
		return historyErr(*db, err)
	}
	if *weights != "" {
		return m.exportWeights(s, *weights)
	}
	rows := make([]exportRow, len(s.Genomes))
	for i, g := range s.Genomes {
		rows[i] = newExportRow(s.Run.ID, s.Run.Config, g)
	}
	if *format == "jsonl" {
		enc := json.NewEncoder(m.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		return nil
	}
	return writeCSV(m.Stdout, s.Run.Config.Objective, s.Run.Params, rows)
}

// writeCSV writes the rows with a header; params are columns of their own,
// lists are joined with spaces; a problem file's objective (its value in
// its own sign) has the column of its name, or objective_value when a
// column has that name already.
func writeCSV(w io.Writer, objective string, params []string, rows []exportRow) error {
	names := slices.Clone(params)
	for _, r := range rows {
		for k := range r.Params {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	cw := csv.NewWriter(w)
	header := []string{"run", "genome_id", "generation", "status", "fitness", "accuracy", "epochs", "rung", "worker",
		"duration_s", "images_per_sec", "attempts", "parents", "ops", "duplicate_of", "seed", "finished", "failure",
		"replicates", "confirmed_fitness"}
	if objective != "" {
		if slices.Contains(header, objective) {
			objective = "objective_value"
		}
		header = append(header, objective)
	}
	for _, n := range names {
		header = append(header, "param_"+n)
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range rows {
		fit := ""
		if r.Fitness != nil {
			fit = num(*r.Fitness)
		}
		parents := make([]string, len(r.Parents))
		for i, p := range r.Parents {
			parents[i] = strconv.Itoa(p)
		}
		reps := make([]string, len(r.Replicates))
		for i, f := range r.Replicates {
			reps[i] = "-" // training, or failed
			if f != nil {
				reps[i] = num(*f)
			}
		}
		confirmed := ""
		if r.ConfirmedFitness != nil {
			confirmed = num(*r.ConfirmedFitness)
		}
		acc := ""
		if r.Accuracy != nil {
			acc = num(*r.Accuracy)
		}
		rec := []string{r.Run, strconv.Itoa(r.Genome), strconv.Itoa(r.Generation), r.Status, fit, acc,
			strconv.Itoa(r.Epochs), strconv.Itoa(r.Rung), r.Worker, num(r.DurationS), num(r.ImagesPerSec), strconv.Itoa(r.Attempts),
			strings.Join(parents, " "), strings.Join(r.Ops, " "), strconv.Itoa(r.DuplicateOf), strconv.FormatUint(r.Seed, 10), r.Finished, r.Failure,
			strings.Join(reps, " "), confirmed}
		if objective != "" {
			v := ""
			if r.ObjectiveValue != nil {
				v = num(*r.ObjectiveValue)
			}
			rec = append(rec, v)
		}
		for _, n := range names {
			v, ok := r.Params[n]
			switch c, isChoice := r.Choices[n]; {
			case isChoice:
				rec = append(rec, c)
			case ok:
				rec = append(rec, num(v))
			default:
				rec = append(rec, "")
			}
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
