package jobs

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Bounds of liveReads.
const (
	// liveFresh is how old a live job's record may be when it is answered
	// again without asking Temporal: clients polling one job many times a
	// second, or many clients polling the same job, cost one describe per
	// liveFresh, and nobody sees a status older than liveFresh plus one
	// describe.
	liveFresh = 20 * time.Millisecond
	// pendingFresh replaces liveFresh for a pending job while this
	// process's worker is the only one serving the task queue: whatever
	// takes such a job out of pending (its run step starting, a cancel its
	// workflow handles, its workflow returning) happens in that worker,
	// which makes the next read ask Temporal at once. What this bound is
	// left for: changes no worker sees (a terminate or reset from
	// Temporal's tools) and a worker that joined in the last 2 × soleCheckEvery.
	// Clients polling queued jobs every 100 ms then cost one describe per
	// second each instead of ten.
	pendingFresh = time.Second
	// liveRunTTL is how long a live job's run id is remembered. A describe
	// naming the run is served from the history service's cache of the
	// run; without it the server first looks the current run up in its
	// database (GetCurrentExecution), the largest share of the statements
	// a polled job costs. A job id is used again only after its job was
	// deleted, which this process sees at once and another process within
	// the same bound as the finished-job cache.
	liveRunTTL = finishedTTL
	// liveMax bounds the entries; the least recently read go first.
	liveMax = 10_000
)

// liveReads remembers and shares describes of live jobs, by job id.
// Concurrent reads of a job share one describe, a read within liveFresh of
// the last describe is answered from it, and the answers of this process
// never go backwards: a describe that shows a job at an earlier stage than
// one already answered (pending after running, as when Temporal retries
// the run step, or an older progress report) gives way to the later one.
type liveReads struct {
	mu      sync.Mutex
	entries map[string]*liveEntry
	now     func() time.Time // time.Now; tests stop the clock
	// quietPending reports whether pending records may be kept for
	// pendingFresh (see there; tests lengthen it); nil means never.
	quietPending func() bool
	pendingFresh time.Duration
}

type liveEntry struct {
	runID    string
	runUntil time.Time // runID is used until then
	job      *Job      // the latest answer; nil before the first
	readAt   time.Time // when the describe behind job began
	usedAt   time.Time
	flight   *liveFlight // the describe in progress, if any
	// ending is set once this process's worker has seen the job's
	// workflow return: its close is due any moment, so every read asks
	// Temporal until it shows (a client polling for the end sees it as
	// soon as Temporal does).
	ending bool
}

// liveFlight is one describe that concurrent readers share.
type liveFlight struct {
	began time.Time
	done  chan struct{}
	job   *Job
	err   error
}

func newLiveReads() *liveReads {
	return &liveReads{entries: map[string]*liveEntry{}, now: time.Now, pendingFresh: pendingFresh}
}

// readFunc describes job id, in run runID when it is not empty.
type readFunc func(ctx context.Context, runID string) (*Job, error)

// get returns job id's record: the remembered one when it is fresh, else
// the result of a describe, shared with concurrent callers. read's
// terminal records pass through unchanged and end the entry.
func (l *liveReads) get(ctx context.Context, id string, read readFunc) (*Job, error) {
	now := l.now()
	l.mu.Lock()
	e := l.entry(id, now)
	if e.job != nil && !e.ending && now.Sub(e.readAt) < l.freshFor(e.job) {
		j := *e.job
		l.mu.Unlock()
		return &j, nil
	}
	f := e.flight
	if f == nil || now.Sub(f.began) >= liveFresh {
		f = &liveFlight{began: now, done: make(chan struct{})}
		e.flight = f
		runID := ""
		if now.Before(e.runUntil) {
			runID = e.runID
		}
		l.mu.Unlock()
		// Not the caller's ctx: others may wait for this describe.
		job, err := read(context.WithoutCancel(ctx), runID)
		l.mu.Lock()
		f.job, f.err = l.settle(id, f, job, err)
		l.mu.Unlock()
		close(f.done)
	} else {
		l.mu.Unlock()
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	j := *f.job
	return &j, nil
}

// freshFor is how long a live record is answered again without asking
// Temporal. Called with l.mu held.
func (l *liveReads) freshFor(j *Job) time.Duration {
	if j.Status == StatusPending && l.quietPending != nil && l.quietPending() {
		return l.pendingFresh
	}
	return liveFresh
}

func (l *liveReads) setQuietPending(quiet func() bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.quietPending = quiet
}

// settle records a describe's outcome and returns what to answer. Called
// with l.mu held.
func (l *liveReads) settle(id string, f *liveFlight, job *Job, err error) (*Job, error) {
	e := l.entries[id]
	if e == nil || e.flight != f {
		// Forgotten (deleted) or overtaken by a newer describe meanwhile.
		if e != nil && e.job != nil && job != nil && !job.Terminal() && laterStage(e.job, job) {
			return e.job, nil
		}
		return job, err
	}
	e.flight = nil
	if err != nil {
		return nil, err
	}
	if job.Terminal() {
		delete(l.entries, id)
		return job, nil
	}
	if e.job != nil && laterStage(e.job, job) {
		// Temporal shows an earlier stage than this process already
		// answered; the newer answer stands, as fresh as this describe.
		e.readAt = f.began
		return e.job, nil
	}
	if job.runID != "" {
		if e.runID != job.runID {
			e.runUntil = f.began.Add(liveRunTTL)
		}
		e.runID = job.runID
	}
	e.job, e.readAt = job, f.began
	return job, nil
}

// laterStage reports whether a shows job b at a later stage than b does:
// running after pending, or a newer progress report.
func laterStage(a, b *Job) bool {
	rank := func(j *Job) int {
		if j.Status == StatusRunning {
			return 1
		}
		return 0
	}
	if rank(a) != rank(b) {
		return rank(a) > rank(b)
	}
	return a.Progress != nil && (b.Progress == nil || a.Progress.UpdatedAt.After(b.Progress.UpdatedAt))
}

// entry returns id's entry, creating it. Called with l.mu held.
func (l *liveReads) entry(id string, now time.Time) *liveEntry {
	e := l.entries[id]
	if e == nil {
		if len(l.entries) >= liveMax {
			l.evict(now)
		}
		e = &liveEntry{}
		l.entries[id] = e
	}
	e.usedAt = now
	return e
}

// evict makes room: it drops the entries not read for liveRunTTL and, if
// that is not enough, the least recently read half. Entries with a describe
// in progress stay. Called with l.mu held, only when the map is full, so
// its cost is spread over many inserts.
func (l *liveReads) evict(now time.Time) {
	for id, e := range l.entries {
		if e.flight == nil && now.Sub(e.usedAt) > liveRunTTL {
			delete(l.entries, id)
		}
	}
	if len(l.entries) < liveMax {
		return
	}
	used := make([]time.Time, 0, len(l.entries))
	for _, e := range l.entries {
		used = append(used, e.usedAt)
	}
	slices.SortFunc(used, time.Time.Compare)
	median := used[len(used)/2]
	for id, e := range l.entries {
		if e.flight == nil && e.usedAt.Before(median) {
			delete(l.entries, id)
		}
	}
}

// started remembers the run a job was just started in, so that its first
// reads already name it.
func (l *liveReads) started(id, runID string) {
	if runID == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(id, now)
	if e.job != nil && e.job.runID != runID {
		e.job = nil // a record of an older run with this id
	}
	e.runID, e.runUntil = runID, now.Add(liveRunTTL)
}

// runOf returns the run of job id this process knows, or "".
func (l *liveReads) runOf(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[id]; e != nil && l.now().Before(e.runUntil) {
		return e.runID
	}
	return ""
}

// stale makes the next read of job id ask Temporal, e.g. once a waiter
// has heard that the job may have ended, or this process's worker began
// its run step. What was answered still bounds
// what comes next.
func (l *liveReads) stale(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[id]; e != nil {
		e.readAt = time.Time{}
		e.flight = nil // a describe begun before the wait is not joined either
	}
}

// ended records that this process's worker saw job id's workflow return.
func (l *liveReads) ended(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[id]; e != nil {
		e.ending, e.readAt, e.flight = true, time.Time{}, nil
	}
}

// forget drops what is remembered of job id, e.g. once it is deleted.
func (l *liveReads) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, id)
}
