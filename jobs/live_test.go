package jobs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The end-to-end guarantee, with real jobs on a real server, is tested in
// cmd/chaptask (TestLiveJobReads); these pin liveReads' rules.

func TestLiveReadsShareOneDescribe(t *testing.T) {
	l := newLiveReads()
	stopped := time.Now()
	l.now = func() time.Time { return stopped } // every reader is within liveFresh
	var calls atomic.Int32
	release := make(chan struct{})
	read := func(ctx context.Context, runID string) (*Job, error) {
		calls.Add(1)
		<-release // readers arriving meanwhile join this describe
		return &Job{ID: "job", Status: StatusRunning, runID: "run"}, nil
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if j, err := l.get(context.Background(), "job", read); err != nil || j.Status != StatusRunning {
				t.Errorf("get = %v, %v; want a running job", j, err)
			}
		})
		if i == 3 {
			close(release) // the rest arrive after the describe, or join it
		}
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d describes for 8 concurrent readers, want 1", n)
	}
}

func TestLiveReadsNeverGoBackwards(t *testing.T) {
	l := newLiveReads()
	answers := []*Job{
		{ID: "job", Status: StatusRunning, runID: "run"},
		{ID: "job", Status: StatusPending, runID: "run"}, // the run step retried
		{ID: "job", Status: StatusCompleted, runID: "run"},
	}
	var runIDs []string
	read := func(ctx context.Context, runID string) (*Job, error) {
		runIDs = append(runIDs, runID)
		j := answers[0]
		answers = answers[1:]
		return j, nil
	}
	var got []string
	for range 3 {
		l.stale("job") // as after a wait: each read describes
		j, err := l.get(context.Background(), "job", read)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, j.Status)
	}
	want := []string{StatusRunning, StatusRunning, StatusCompleted}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if runIDs[0] != "" || runIDs[1] != "run" {
		t.Errorf("describes named runs %q; want the current run first, then the run it returned", runIDs)
	}
	if _, ok := l.entries["job"]; ok {
		t.Error("a finished job stayed among the live ones")
	}
}

func TestLiveReadsAnswerFreshRecordsWithoutADescribe(t *testing.T) {
	l := newLiveReads()
	stopped := time.Now()
	l.now = func() time.Time { return stopped }
	l.started("job", "run-1")
	calls := 0
	read := func(ctx context.Context, runID string) (*Job, error) {
		calls++
		if runID != "run-1" {
			t.Errorf("describe of run %q, want the started run-1", runID)
		}
		return &Job{ID: "job", Status: StatusPending, runID: "run-1"}, nil
	}
	for range 3 {
		if _, err := l.get(context.Background(), "job", read); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("%d describes for 3 reads within %s, want 1", calls, liveFresh)
	}
	l.stale("job")
	if _, err := l.get(context.Background(), "job", read); err != nil || calls != 2 {
		t.Errorf("after stale: %d describes (%v), want 2", calls, err)
	}
}

func TestLiveReadsPassErrorsAndForget(t *testing.T) {
	l := newLiveReads()
	boom := errors.New("unavailable")
	if _, err := l.get(context.Background(), "job", func(context.Context, string) (*Job, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("get = %v, want %v", err, boom)
	}
	l.started("job", "run")
	l.forget("job")
	if len(l.entries) != 0 {
		t.Error("forget left the entry")
	}
}

func TestLiveReadsEvictTheLeastRecentlyRead(t *testing.T) {
	l := newLiveReads()
	now := time.Now()
	for i := range liveMax {
		e := l.entry(string(rune('a'+i%26))+time.Duration(i).String(), now.Add(time.Duration(i)))
		e.runID = "run"
	}
	l.evict(now.Add(liveMax))
	if n := len(l.entries); n >= liveMax || n == 0 {
		t.Errorf("%d entries after eviction, want some but fewer than %d", n, liveMax)
	}
}

func TestLiveReadsAskTemporalOnceTheLocalWorkflowReturned(t *testing.T) {
	l := newLiveReads()
	stopped := time.Now()
	l.now = func() time.Time { return stopped }
	calls := 0
	read := func(ctx context.Context, runID string) (*Job, error) {
		calls++
		return &Job{ID: "job", Status: StatusRunning, runID: "run"}, nil
	}
	runs := NewLocalRuns()
	runs.follow(localFollower{ended: l.ended, runStarted: l.stale})
	runs.begin("job")
	for range 2 {
		if _, err := l.get(context.Background(), "job", read); err != nil {
			t.Fatal(err)
		}
	}
	runs.end("job")
	for range 2 {
		if _, err := l.get(context.Background(), "job", read); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("%d describes, want 1 while the workflow ran here and 1 per read after it returned (3)", calls)
	}
}

func TestLiveReadsKeepPendingWhileTheWorkerIsSole(t *testing.T) {
	l := newLiveReads()
	start := time.Now()
	now := start
	l.now = func() time.Time { return now }
	sole := true
	l.quietPending = func() bool { return sole }
	status := StatusPending
	calls := 0
	read := func(ctx context.Context, runID string) (*Job, error) {
		calls++
		return &Job{ID: "job", Status: status, runID: "run"}, nil
	}
	get := func(at time.Duration, want int, why string) {
		t.Helper()
		now = start.Add(at)
		if _, err := l.get(context.Background(), "job", read); err != nil {
			t.Fatal(err)
		}
		if calls != want {
			t.Fatalf("at %v: %d describes, want %d (%s)", at, calls, want, why)
		}
	}
	get(0, 1, "the first read asks Temporal")
	get(500*time.Millisecond, 1, "a pending record is kept while this worker is the only one")
	sole = false
	get(600*time.Millisecond, 2, "with other workers the usual 20 ms bound holds")
	sole = true
	get(700*time.Millisecond, 2, "kept again")
	l.stale("job") // the worker began the run step
	status = StatusRunning
	get(710*time.Millisecond, 3, "a run step started here makes the next read ask")
	get(800*time.Millisecond, 4, "a running record is kept only 20 ms")
	status = StatusPending // Temporal retries the run step: pending again
	l.forget("job")
	get(900*time.Millisecond, 5, "a new record")
	get(900*time.Millisecond+pendingFresh, 6, "the bound for what no worker sees ran out")
}
