// Command soak runs a regression search as separate processes (a NATS
// server, a coordinator, workers) while killing a worker with SIGKILL every
// few seconds and restarting the coordinator and the NATS server once each,
// then reads the history and prints what the faults cost: genomes lost,
// genomes counted twice, kills survived, genomes per second.
//
// Run it from the module root (it builds cmd/gahpo):
//
//	go run ./bench/soak -population 100 -generations 20 -workers 8 -kill-every 3s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	bin                             string
	dir                             string
	population, generations, nwork  int
	killEvery, coordAt, natsAt, max time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.bin, "gahpo", "", "gahpo binary (default: built from ./cmd/gahpo)")
	flag.StringVar(&c.dir, "dir", "", "working directory (default: a new temp dir, removed at the end)")
	flag.IntVar(&c.population, "population", 100, "genomes per generation")
	flag.IntVar(&c.generations, "generations", 20, "generations")
	flag.IntVar(&c.nwork, "workers", 8, "worker processes")
	flag.DurationVar(&c.killEvery, "kill-every", 3*time.Second, "a worker is killed with SIGKILL and restarted this often")
	flag.DurationVar(&c.coordAt, "coordinator-restart", 20*time.Second, "the coordinator is killed and restarted this long into the run")
	flag.DurationVar(&c.natsAt, "nats-restart", 40*time.Second, "the NATS server is killed and restarted this long into the run")
	flag.DurationVar(&c.max, "timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// proc is a gahpo process that can be killed and started again.
type proc struct {
	name string
	args []string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

func (p *proc) start(bin string) error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); f.Close() }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

// kill sends sig and waits for the process to end.
func (p *proc) kill(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(c config) error {
	if c.dir == "" {
		d, err := os.MkdirTemp("", "gahpo-soak")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.dir = d
	}
	if c.bin == "" {
		c.bin = filepath.Join(c.dir, "gahpo")
		build := exec.Command("go", "build", "-o", c.bin, "./cmd/gahpo")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build gahpo (run from the module root): %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	db := filepath.Join(c.dir, "h.db")
	nats := &proc{name: "nats", log: filepath.Join(c.dir, "nats.log"),
		args: []string{"nats", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--store", filepath.Join(c.dir, "nats")}}
	coord := &proc{name: "coordinator", log: filepath.Join(c.dir, "coordinator.log"),
		args: []string{"coordinator", "--nats", url, "--db", db, "--problem", "regression", "--population", strconv.Itoa(c.population),
			"--generations", strconv.Itoa(c.generations), "--final-epochs", "0", "--ack-wait", "2s", "--log-level", "warn", "--no-progress"}}
	var workers []*proc
	for i := range c.nwork {
		workers = append(workers, &proc{name: fmt.Sprint("worker ", i), log: filepath.Join(c.dir, fmt.Sprintf("w%d.log", i)),
			args: []string{"worker", "--nats", url, "--name", fmt.Sprint("w", i), "--log-level", "warn"}})
	}
	if err := nats.start(c.bin); err != nil {
		return err
	}
	defer nats.kill(syscall.SIGTERM)
	time.Sleep(time.Second)
	begin := time.Now()
	if err := coord.start(c.bin); err != nil {
		return err
	}
	for _, w := range workers {
		if err := w.start(c.bin); err != nil {
			return err
		}
		defer w.kill(syscall.SIGTERM)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.max)
	defer cancel()
	kills, coordRestarted, natsRestarted := 0, false, false
	tick := time.NewTicker(c.killEvery)
	defer tick.Stop()
	for {
		coord.mu.Lock()
		done := coord.done
		coord.mu.Unlock()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("coordinator: %w (log: %s)", err, coord.log)
			}
			elapsed := time.Since(begin)
			return report(c, db, kills, coordRestarted, natsRestarted, elapsed)
		case <-ctx.Done():
			return fmt.Errorf("run not finished after %v (logs in %s)", c.max, c.dir)
		case <-tick.C:
			w := workers[rand.IntN(len(workers))]
			w.kill(syscall.SIGKILL)
			kills++
			if err := w.start(c.bin); err != nil {
				return err
			}
			switch since := time.Since(begin); {
			case !coordRestarted && since > c.coordAt:
				coord.kill(syscall.SIGKILL)
				if err := coord.start(c.bin); err != nil {
					return err
				}
				coordRestarted = true
			case !natsRestarted && since > c.natsAt:
				nats.kill(syscall.SIGKILL)
				if err := nats.start(c.bin); err != nil {
					return err
				}
				natsRestarted = true
			}
		}
	}
}

type record struct {
	ID       int    `json:"id"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Failure  string `json:"failure"`
}

// report reads the finished history and prints the figures.
func report(c config, db string, kills int, coordRestarted, natsRestarted bool, elapsed time.Duration) error {
	seen := map[int]int{}
	evaluated, failed, gaveUp, over, redelivered := 0, 0, 0, 0, 0
	for g := 1; g <= c.generations; g++ { // as the CLI counts them
		out, err := exec.Command(c.bin, "query", "generation", strconv.Itoa(g), "--json", "--db", db).Output()
		if err != nil {
			return fmt.Errorf("query generation %d: %w", g, err)
		}
		var recs []record
		if err := json.Unmarshal(out, &recs); err != nil {
			return fmt.Errorf("generation %d: %w", g, err)
		}
		n := 0
		for _, r := range recs {
			seen[r.ID]++
			if r.Status == "queued" {
				continue
			}
			n++
			if r.Status == "failed" {
				failed++
				if strings.HasPrefix(r.Failure, "gave up after") {
					gaveUp++ // every delivery's worker was killed
				}
			}
			if r.Attempts > 1 {
				redelivered++
			}
		}
		evaluated += n
		over += max(0, n-c.population)
	}
	twice := over
	for _, k := range seen {
		if k > 1 {
			twice++
		}
	}
	want := c.population * c.generations
	if !coordRestarted || !natsRestarted {
		fmt.Println("note: the run ended before both restarts (raise -generations or lower -coordinator-restart/-nats-restart)")
	}
	fmt.Printf("genomes %d, evaluated %d (delivered more than once %d; failed %d, of which %d because every worker that took them was killed)\n",
		want, evaluated, redelivered, failed, gaveUp)
	fmt.Printf("genomes lost %d, counted twice %d\n", want-evaluated, twice)
	fmt.Printf("workers killed with SIGKILL and survived: %d; coordinator restarted: %v; NATS server restarted: %v\n", kills, coordRestarted, natsRestarted)
	fmt.Printf("%.0f s, %.1f genomes/s\n", elapsed.Seconds(), float64(evaluated)/elapsed.Seconds())
	if want != evaluated || twice != 0 {
		return errors.New("genomes lost or counted twice")
	}
	return nil
}
