package main_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	root "github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// TestExportReportQuery runs a small real regression search, then checks
// that export's rows (CSV and JSON lines) are the history's genomes, that
// report draws its figures, and how query answers out-of-range numbers.
func TestExportReportQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary, built only without -short")
	}
	db := filepath.Join(t.TempDir(), "h.db")
	if out, errOut, err := gahpo(t, "run", "--problem", "regression", "--db", db, "--population", "6", "--generations", "2", "--workers", "2", "--seed", "9"); err != nil {
		t.Fatalf("gahpo run: %v\n%s\n%s", err, out, errOut)
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.Run("")
	if err != nil {
		t.Fatal(err)
	}
	genomes, err := st.Genomes(run.ID, -1)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, err := gahpo(t, "export", "--db", db, "--format", "jsonl")
	if err != nil {
		t.Fatalf("export jsonl: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(genomes) {
		t.Fatalf("%d JSON lines, want %d genomes", len(lines), len(genomes))
	}
	for i, l := range lines {
		var r struct {
			Genome     int                `json:"genome_id"`
			Generation int                `json:"generation"`
			Status     string             `json:"status"`
			Fitness    *float64           `json:"fitness"`
			Worker     string             `json:"worker"`
			DurationS  float64            `json:"duration_s"`
			Parents    []int              `json:"parents"`
			Params     map[string]float64 `json:"params"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, l)
		}
		g := genomes[i]
		fitOK := (r.Fitness == nil) == (g.Status == root.GenomeFailed) && (r.Fitness == nil || *r.Fitness == float64(g.Fitness))
		if r.Genome != g.ID || r.Generation != g.Generation+1 || r.Status != string(g.Status) || !fitOK || r.Worker != g.Worker ||
			r.DurationS != g.Duration.Seconds() || len(r.Parents) != len(g.Parents) || len(r.Params) != len(g.Params) {
			t.Errorf("row %d = %+v, genome %+v", i+1, r, g)
		}
		for k, v := range g.Params {
			if r.Params[k] != v {
				t.Errorf("row %d param %s = %v, want %v", i+1, k, r.Params[k], v)
			}
		}
	}

	out, errOut, err = gahpo(t, "export", "--db", db, "--format", "csv")
	if err != nil {
		t.Fatalf("export csv: %v\n%s", err, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(genomes) {
		t.Fatalf("%d CSV records, want a header and %d genomes", len(recs), len(genomes))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, g := range genomes {
		r := recs[i+1]
		d, _ := strconv.ParseFloat(r[col["duration_s"]], 64)
		lr, _ := strconv.ParseFloat(r[col["param_lr"]], 64)
		wantFit := strconv.FormatFloat(float64(g.Fitness), 'g', -1, 64)
		if g.Status == root.GenomeFailed {
			wantFit = ""
		}
		if r[col["genome_id"]] != strconv.Itoa(g.ID) || r[col["generation"]] != strconv.Itoa(g.Generation+1) ||
			r[col["fitness"]] != wantFit || d != g.Duration.Seconds() || lr != g.Params["lr"] || r[col["status"]] != string(g.Status) {
			t.Errorf("CSV row %d = %v, genome %+v", i+1, r, g)
		}
	}

	dir := filepath.Join(t.TempDir(), "report")
	if out, errOut, err := gahpo(t, "report", "--db", db, "--out", dir); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out, errOut)
	}
	for _, f := range []string{"index.html", "best-boxes.png", "final-loss.png", "regression-fit.png", "parallel.png"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("report lacks %s: %v", f, err)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "generation", "3"}, "generation 3 not found: run " + run.ID + " has generations 1-2"},
		{[]string{"query", "genome", "999"}, "genome 999 not found: run " + run.ID + " has genomes 1-"},
		{[]string{"query", "generation", "0"}, "count from 1"},
	} {
		_, errOut, err := gahpo(t, append(tc.args, "--db", db)...)
		if err == nil || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, `\0`) {
			t.Errorf("%v: err %v, stderr %q, want %q", tc.args, err, errOut, tc.want)
		}
	}
	out, _, err = gahpo(t, "query", "generation", "2", "--db", db)
	if err != nil || !strings.Contains(out, "GENOME") {
		t.Errorf("query generation 2 (the last): %v\n%s", err, out)
	}
	serveReport(t, db)
	if _, _, err := gahpo(t, "export", "-h"); err != nil {
		t.Errorf("export -h: %v, want exit 0", err)
	}
}

// serveReport runs `gahpo report --serve` on a history file, loads the page
// and a figure, and stops it with SIGINT.
func serveReport(t *testing.T, db string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := command(ctx, "", "report", "--serve", addr, "--db", db)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var page string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		break
	}
	if !strings.Contains(page, "best-boxes.png") || !strings.Contains(page, "EventSource") {
		t.Fatalf("served page lacks the figures or the live script:\n%.500s\nstderr: %s", page, errb.String())
	}
	resp, err := http.Get("http://" + addr + "/best-boxes.png")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("figure: %v %v", err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("report --serve after SIGINT: %v\n%s", err, errb.String())
	}
}
