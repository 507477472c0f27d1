// Package servicetest runs a chaptask service in-process for tests, the way
// its binary runs: a run function that serves HTTP until its context ends.
package servicetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// Lines the service prints on stdout once it serves (see chaptask.Run).
const (
	servingPrefix  = "chaptask: serving HTTP on "
	temporalPrefix = "chaptask: embedded Temporal frontend on "
)

// RunFunc is a service's run function: it blocks until ctx ends.
type RunFunc func(ctx context.Context, stdout, stderr io.Writer) error

// Service is a running service.
type Service struct {
	// URL is the base URL of its HTTP API, e.g. http://127.0.0.1:41234.
	URL string
	// TemporalAddr is the embedded Temporal frontend, when it started one.
	TemporalAddr string

	t      testing.TB
	cancel context.CancelFunc
	done   chan error
}

// Start runs run in the background, waits until it serves HTTP and stops it
// when the test ends. Its logs go to the test log.
func Start(t testing.TB, run RunFunc) *Service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &Service{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, pw, LogWriter{t})
		pw.CloseWithError(fmt.Errorf("run returned: %v", err))
		s.done <- err
	}()
	t.Cleanup(s.Stop)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if addr, ok := strings.CutPrefix(line, temporalPrefix); ok {
			s.TemporalAddr = addr
		}
		if addr, ok := strings.CutPrefix(line, servingPrefix); ok {
			s.URL = addr
			go io.Copy(io.Discard, pr) //nolint:errcheck // drain the rest
			return s
		}
	}
	t.Fatalf("service did not start: %v", sc.Err())
	return nil
}

// Stop ends the service and reports an error it returned; calling it again
// does nothing.
func (s *Service) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("service: %v", err)
		}
	case <-time.After(60 * time.Second):
		s.t.Errorf("service did not stop within 60 s")
	}
}

// LogWriter writes each line to the test log.
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
