package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds how long a chaptask process may take to start.
	readyTimeout = 2 * time.Minute
	// stopGrace is how long a process gets to exit after SIGTERM.
	stopGrace = 30 * time.Second
	// shownLogLines is how many service log lines are echoed to stderr.
	shownLogLines = 20
)

// Lines chaptask prints on stdout when it is ready.
const (
	readyHTTPPrefix     = "chaptask: serving HTTP on http://"
	readyFrontendPrefix = "chaptask: embedded Temporal frontend on "
)

// serviceConfig says how to run chaptask.
type serviceConfig struct {
	Binary          string
	DataDir         string
	DatabaseURL     string // "" for SQLite in DataDir
	TemporalAddress string // "" for the embedded server
	TaskQueue       string
	MaxConcurrency  int
	Workers         int
	Environ         []string // the bench's environment, filtered for the children
}

// service is a running chaptask: the main process (API and worker, and the
// embedded Temporal server unless TemporalAddress is set) and any
// worker-only processes.
type service struct {
	BaseURL  string // http://host:port of the API
	Frontend string // Temporal frontend the workers use
	procs    []*process
	stopOnce sync.Once
	stopErr  error
}

// startService starts chaptask and returns once its API answers. The
// worker-only processes are started, not awaited: the warm-up jobs that
// precede every measurement give them time to poll.
func startService(ctx context.Context, cfg serviceConfig, prog *progress) (*service, error) {
	vars := map[string]string{
		"CHAPTASK_DATA_DIR":               cfg.DataDir,
		"CHAPTASK_HTTP_ADDR":              "127.0.0.1:0",
		"CHAPTASK_EMBEDDED_TEMPORAL_ADDR": "127.0.0.1:0",
		"CHAPTASK_EMBEDDED_UI_ADDR":       "off",
		"CHAPTASK_LOG_LEVEL":              "warn",
		"CHAPTASK_SEED_EXAMPLES":          "false",
		"CHAPTASK_MAX_CONCURRENCY":        strconv.Itoa(cfg.MaxConcurrency),
		"CHAPTASK_TASK_QUEUE":             cfg.TaskQueue,
		"CHAPTASK_ROLE":                   "all",
		"DATABASE_URL":                    cfg.DatabaseURL,
		"TEMPORAL_ADDRESS":                cfg.TemporalAddress,
	}
	s := &service{}
	main, ready, err := startProcess("chaptask", cfg.Binary, childEnv(cfg.Environ, vars), prog)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, main)
	if err := s.awaitReady(ctx, main, ready, cfg.TemporalAddress == ""); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	if cfg.TemporalAddress != "" {
		s.Frontend = cfg.TemporalAddress
	}

	vars["CHAPTASK_ROLE"] = "worker"
	vars["TEMPORAL_ADDRESS"] = s.Frontend
	for i := 1; i < cfg.Workers; i++ {
		w, _, err := startProcess(fmt.Sprintf("worker-%d", i), cfg.Binary, childEnv(cfg.Environ, vars), prog)
		if err != nil {
			return nil, errors.Join(err, s.stop())
		}
		s.procs = append(s.procs, w)
	}
	return s, nil
}

// awaitReady waits for the ready lines of the main process.
func (s *service) awaitReady(ctx context.Context, p *process, ready <-chan string, embedded bool) error {
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for s.BaseURL == "" {
		select {
		case line := <-ready:
			if addr, ok := strings.CutPrefix(line, readyFrontendPrefix); ok {
				s.Frontend = addr
			}
			if addr, ok := strings.CutPrefix(line, readyHTTPPrefix); ok {
				s.BaseURL = "http://" + addr
			}
		case <-p.exited:
			return fmt.Errorf("chaptask exited before serving HTTP (%v); its log lines are above", p.cmd.ProcessState)
		case <-timeout.C:
			return fmt.Errorf("chaptask did not serve HTTP within %s", readyTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if embedded && s.Frontend == "" {
		return errors.New("chaptask did not print its embedded Temporal frontend")
	}
	return nil
}

// alive returns an error if a process has exited.
func (s *service) alive() error {
	for _, p := range s.procs {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited early: %v", p.name, p.err)
		default:
		}
	}
	return nil
}

// cpu sums the CPU times of the processes.
func (s *service) cpu() (cpuTimes, error) {
	each, err := s.cpuEach()
	var sum cpuTimes
	for _, c := range each {
		sum = sum.add(c.CPU)
	}
	return sum, err
}

// namedCPU is the CPU time of one process.
type namedCPU struct {
	Name string
	CPU  cpuTimes
}

// cpuEach returns the CPU times of each process, main process first.
func (s *service) cpuEach() ([]namedCPU, error) {
	var out []namedCPU
	for _, p := range s.procs {
		c, err := readCPU(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out = append(out, namedCPU{Name: p.name, CPU: c})
	}
	return out, nil
}

// peakRSS returns the peak RSS of each process, main process first.
func (s *service) peakRSS() ([]namedBytes, error) {
	var out []namedBytes
	for _, p := range s.procs {
		b, err := readPeakRSS(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out = append(out, namedBytes{Name: p.name, Bytes: b})
	}
	return out, nil
}

// logLines is how many lines the processes wrote to stderr.
func (s *service) logLines() int {
	n := 0
	for _, p := range s.procs {
		n += p.logs.count()
	}
	return n
}

// stop sends SIGTERM to every process, worker-only ones first, and kills
// those still running after stopGrace. It returns an error for a process
// that did not exit cleanly. Later calls return the first call's result.
func (s *service) stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		for i := len(s.procs) - 1; i >= 0; i-- {
			if err := s.procs[i].stop(); err != nil {
				errs = append(errs, err)
			}
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// namedBytes is a size attributed to a process.
type namedBytes struct {
	Name  string
	Bytes int64
}

// process is one chaptask subprocess.
type process struct {
	name   string
	cmd    *exec.Cmd
	logs   *logTail
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's result, set before exited is closed
}

// startProcess starts binary with env. Lines it prints to stdout that start
// with "chaptask: " are sent on the returned channel (those beyond its
// buffer are dropped); stderr is counted and its first lines are echoed.
func startProcess(name, binary string, env []string, prog *progress, args ...string) (*process, <-chan string, error) {
	ready := make(chan string, 8)
	p := &process{
		name:   name,
		cmd:    exec.Command(binary, args...),
		logs:   &logTail{name: name, prog: prog},
		exited: make(chan struct{}),
	}
	p.cmd.Env = env
	p.cmd.Stdout = &lineWriter{fn: func(line string) {
		if strings.HasPrefix(line, "chaptask: ") {
			select {
			case ready <- line:
			default:
			}
		}
	}}
	p.cmd.Stderr = &lineWriter{fn: p.logs.add}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that the terminal's Ctrl-C reaches only
		// the bench, which then stops the service in order.
		Setpgid: true,
		// Should the bench die without cleaning up, so does the service.
		// (Linux sends it when the thread that started the process exits;
		// Go ends a thread only when a goroutine locked to it exits, which
		// the bench never does.)
		Pdeathsig: syscall.SIGKILL,
	}
	if err := p.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, ready, nil
}

// stop terminates the process gracefully, or kills it after stopGrace.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return p.exitError()
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.exitError()
	case <-timer.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s did not stop within %s and was killed", p.name, stopGrace)
	}
}

func (p *process) exitError() error {
	if p.err != nil {
		return fmt.Errorf("%s: %w", p.name, p.err)
	}
	return nil
}

// childEnv is environ without the variables chaptask reads, plus vars
// (empty values are left out, so that chaptask uses its default).
func childEnv(environ []string, vars map[string]string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CHAPTASK_") || k == "DATABASE_URL" || strings.HasPrefix(k, "TEMPORAL_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range vars {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// buildChaptask builds the service binary into dir.
func buildChaptask(ctx context.Context, dir string, environ []string, prog *progress) (string, error) {
	bin := filepath.Join(dir, "chaptask")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/chaptask/chaptask/cmd/chaptask")
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/chaptask: %w\n%s", err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("go build ./cmd/chaptask: %w", err)
	}
	prog.logf("built %s", bin)
	return bin, nil
}

// lineWriter calls fn with every complete line written to it. exec.Cmd
// writes each stream from one goroutine, so it needs no lock.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// logTail counts a process's log lines and echoes the first shownLogLines
// of them to the progress output.
type logTail struct {
	name string
	prog *progress
	mu   sync.Mutex
	n    int
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	l.n++
	n := l.n
	l.mu.Unlock()
	switch {
	case n <= shownLogLines:
		l.prog.logf("  [%s] %s", l.name, line)
	case n == shownLogLines+1:
		l.prog.logf("  [%s] (further log lines not shown)", l.name)
	}
}

func (l *logTail) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
