package worker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Jobs' checkpoint directories are CacheDir/jobs/job-<pid>-<random>: the
// process id tells a later worker which ones a dead process left behind.

func (w *Worker) jobsDir() string { return filepath.Join(w.cfg.CacheDir, "jobs") }

// newJobDir makes an empty checkpoint directory for one job.
func (w *Worker) newJobDir() (string, error) {
	root := w.jobsDir()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("worker: checkpoint directory: %w", err)
	}
	dir, err := os.MkdirTemp(root, "job-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("worker: checkpoint directory: %w", err)
	}
	return dir, nil
}

// jobDir is a slot's checkpoint directory. It is made at the slot's first
// job and kept while its jobs leave it empty; a job that left files in it
// has it removed, and the next job gets a new one. Making and removing a
// directory for every job cost 0.57 ms on this project's disk, more than
// the rest of a short task's path through the worker. The directory is
// kept open, so that telling whether a job left it empty costs no open,
// close and poller registration of it (9 system calls a job, then 3).
type jobDir struct {
	path string
	f    *os.File // the directory open; nil if it could not be opened
}

// jobDirFor returns j's directory, empty, making it when there is none,
// or when it went since the last job (the cache deleted between tasks).
func (w *Worker) jobDirFor(j *jobDir) (string, error) {
	if j.path != "" {
		if fi, err := os.Stat(j.path); err == nil && fi.IsDir() {
			return j.path, nil
		}
		w.log.Warn("the checkpoint directory went since the last job; making another", "dir", j.path)
		j.close()
		j.path = ""
	}
	dir, err := w.newJobDir()
	if err != nil {
		return "", err
	}
	j.path = dir
	if f, err := os.Open(dir); err == nil {
		j.f = f
	}
	return dir, nil
}

// close closes j's directory, if open.
func (j *jobDir) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// releaseJobDir keeps j's directory for the next job if the job left it
// empty, and removes it otherwise (or if it cannot tell).
func (w *Worker) releaseJobDir(j *jobDir) {
	if j.path == "" {
		return
	}
	if j.f != nil {
		// From its first entry again; a directory removed under it
		// reads as an error, not as empty.
		if _, err := j.f.Seek(0, io.SeekStart); err == nil {
			if _, err := j.f.Readdirnames(1); err == io.EOF {
				return
			}
		}
	}
	w.removeJobDir(j)
}

// removeJobDir removes j's directory, if any.
func (w *Worker) removeJobDir(j *jobDir) {
	j.close()
	if j.path == "" {
		return
	}
	if err := os.RemoveAll(j.path); err != nil {
		w.log.Warn("cannot remove a checkpoint directory", "dir", j.path, "err", err)
	}
	j.path = ""
}

var (
	cleanMu   sync.Mutex
	cleanOnce = map[string]*sync.Once{} // jobs dir → its cleaning in this process
)

// cleanJobDirs removes, once per process and jobs directory, the
// checkpoint directories of workers that were killed: those of processes
// that are gone, and those of this process id (a previous process with the
// same id, as in a restarted container), which no job of this process can
// own yet since every worker cleans before its first job.
func (w *Worker) cleanJobDirs() {
	root := w.jobsDir()
	cleanMu.Lock()
	once := cleanOnce[root]
	if once == nil {
		once = &sync.Once{}
		cleanOnce[root] = once
	}
	cleanMu.Unlock()
	once.Do(func() {
		entries, err := os.ReadDir(root)
		if err != nil {
			return
		}
		removed := 0
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), "job-")
			pidText, _, ok2 := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if !ok || !ok2 || err != nil || (pid != os.Getpid() && !processGone(pid)) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				w.log.Warn("cannot remove a stale checkpoint directory", "dir", e.Name(), "err", err)
				continue
			}
			removed++
		}
		if removed > 0 {
			w.log.Info("removed the checkpoint directories of killed workers", "dirs", removed)
		}
	})
}

// processGone tells whether no process has id pid.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
