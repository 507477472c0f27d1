package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaptask/chaptask/internal/testclient"
)

// Load test size: 1,000 executions from 50 concurrent clients, with readers
// alongside. At the service's ~30 jobs/s on two cores this takes well under
// two minutes.
const (
	loadJobs    = 1000
	loadClients = 50
	loadReaders = 5
	readPause   = 100 * time.Millisecond
	// maxLoadRSS is a generous ceiling: the service peaks far below it, but
	// a leak per job or an unbounded queue would cross it.
	maxLoadRSS = 2 << 30
	// maxExecuteTries bounds one client's tries of one $execute: a 503
	// with Retry-After is tried again, with the same Idempotency-Key, after
	// the delay it advertises, as the API tells clients to.
	maxExecuteTries = 10
)

// memorySampler polls a child's resident set size until stopped.
type memorySampler struct {
	p       *proc
	stopped chan struct{}
	done    chan struct{}
	peak    atomic.Int64 // highest VmRSS seen
}

func sampleMemory(p *proc, every time.Duration) *memorySampler {
	m := &memorySampler{p: p, stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			rss, _, err := readMemory(p.cmd.Process.Pid)
			if err == nil && rss > m.peak.Load() {
				m.peak.Store(rss)
			}
			select {
			case <-m.stopped:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *memorySampler) stop() int64 {
	close(m.stopped)
	<-m.done
	return m.peak.Load()
}

// TestLoad sends 1,000 $execute requests from 50 concurrent clients to the
// embedded binary while readers list and read jobs and tasks. The clients
// behave as the API asks: each $execute carries its own Idempotency-Key, and
// a 503 with Retry-After (a Temporal start that timed out on an overloaded
// machine) is tried again with the same key after the advertised delay.
// Every key must yield exactly one job, no other job may exist, each job
// must complete with one artifact, no request may get any other 5xx or a
// transport error, and the service's peak RSS must stay bounded.
func TestLoad(t *testing.T) {
	began := time.Now()
	p := start(t, "chaptask", childEnv(t.TempDir()))
	c := newClient(p.base)
	echo := c.createTask(t, map[string]any{"command": "echo hi"})
	sum := c.createTask(t, map[string]any{"command": "calculate_sum", "task_type": "python", "parameters": map[string]any{"a": 40, "b": 2}})
	tasks := []string{echo, sum}
	_, idlePeak := p.memory()
	mem := sampleMemory(p, 100*time.Millisecond)

	var (
		mu         sync.Mutex
		jobTask    = map[string]string{}
		accepted   []string
		listTimes  []time.Duration // of GET /jobs?page=1&size=50, reported only
		serverErrs atomic.Int64
		otherErrs  atomic.Int64
		reads      atomic.Int64
		// Answers of 503 with Retry-After, which clients retry.
		executeRefused, readRefused atomic.Int64
		// Keys that needed more than one try, and those whose retry was
		// replayed: the refused try had started the job after all.
		executeRetried, startedWhenRefused atomic.Int64
	)
	// record classifies one answer; only 5xx and transport errors fail the
	// test (a 503 with Retry-After is taken out before, and retried).
	record := func(what string, r reply, err error) {
		switch {
		case err != nil:
			otherErrs.Add(1)
			t.Errorf("%s: %v", what, err)
		case r.status >= 500:
			serverErrs.Add(1)
			t.Errorf("%s: %s", what, r)
		}
	}

	submitted := make(chan struct{})
	var readers sync.WaitGroup
	for range loadReaders {
		readers.Add(1)
		go func() {
			defer readers.Done()
			// Bounded in count as well as by the submitters finishing.
			for range 5000 {
				select {
				case <-submitted:
					return
				default:
				}
				mu.Lock()
				var id string
				if len(accepted) > 0 {
					id = accepted[rand.IntN(len(accepted))]
				}
				mu.Unlock()
				paths := []string{"/api/v1/jobs?page=1&size=50", "/api/v1/tasks/" + tasks[rand.IntN(len(tasks))]}
				if id != "" {
					paths = append(paths, "/api/v1/jobs/"+id)
				}
				pause := readPause
				for i, path := range paths {
					sent := time.Now()
					r, err := c.try("GET", path, nil)
					if i == 0 {
						mu.Lock()
						listTimes = append(listTimes, time.Since(sent))
						mu.Unlock()
					}
					reads.Add(1)
					if d, ok := retryAfter(r); err == nil && ok {
						readRefused.Add(1)
						pause = max(pause, d)
						break
					}
					record("GET "+path, r, err)
				}
				// A reader is a client polling, not a flood: the pause
				// paces the load (or is the Retry-After the service
				// asked for), it synchronises nothing.
				time.Sleep(pause)
			}
		}()
	}

	// execute submits taskID under key until it is accepted, retrying a
	// 503 with Retry-After; it fails the test on anything else.
	execute := func(taskID, key string) {
		header := http.Header{"Idempotency-Key": {key}}
		for try := 1; ; try++ {
			r, err := c.tryHeader("POST", "/api/v1/tasks/"+taskID+"/$execute", nil, header)
			if d, ok := retryAfter(r); err == nil && ok && try < maxExecuteTries {
				executeRefused.Add(1)
				// The delay the service asked for: a client obeying
				// Retry-After, not synchronisation.
				time.Sleep(d)
				continue
			}
			record("execute "+key, r, err)
			if err != nil || r.status != http.StatusAccepted {
				if err == nil && r.status < 500 {
					t.Errorf("execute %s with key %s: %s, want 202", taskID, key, r)
				}
				return
			}
			var out struct {
				JobID string `json:"job_id"`
			}
			if err := decodeJSON(r.body, &out); err != nil {
				t.Error(err)
				return
			}
			replayed := r.header.Get("Idempotent-Replayed") == "true"
			switch {
			case replayed && try == 1:
				t.Errorf("execute with key %s: replayed job %s on its first try; no job had that key", key, out.JobID)
			case replayed:
				startedWhenRefused.Add(1)
			}
			if try > 1 {
				executeRetried.Add(1)
			}
			mu.Lock()
			defer mu.Unlock()
			if _, ok := jobTask[out.JobID]; ok {
				t.Errorf("execute with key %s: job %s, which another key started", key, out.JobID)
				return
			}
			jobTask[out.JobID] = taskID
			accepted = append(accepted, out.JobID)
			return
		}
	}

	submitBegan := time.Now()
	var clients sync.WaitGroup
	for i := range loadClients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for j := range loadJobs / loadClients {
				execute(tasks[(i+j)%len(tasks)], fmt.Sprintf("load-%d-%d", i, j))
			}
		}()
	}
	clients.Wait()
	submitTime := time.Since(submitBegan)
	close(submitted)
	readers.Wait()

	if len(jobTask) != loadJobs {
		t.Errorf("%d of %d keys started a job", len(jobTask), loadJobs)
	}
	c.waitFinished(t, len(jobTask), 5*time.Minute)
	allDone := time.Since(submitBegan)
	// A refused start that created a job anyway, and was not retried,
	// would show here as one job too many. The total is a count shared by
	// the service's requests, up to a few seconds old: wait until it is
	// the keys' count, which a job too many never lets it be.
	var all page[job]
	testclient.Eventually(t, 30*time.Second, 100*time.Millisecond, func() bool {
		c.must(t, http.StatusOK, "GET", "/api/v1/jobs?page=1&size=1", nil, &all)
		return all.Total == len(jobTask)
	}, func() string {
		return fmt.Sprintf("%d jobs exist, want %d: one per key and none other", all.Total, len(jobTask))
	})
	peakSampled := mem.stop()
	rss, peak := p.memory()

	lost, dup := c.checkOneArtifactEach(t, jobTask, func(taskID string, data map[string]any) error {
		if taskID == echo && data["stdout"] != "hi\n" {
			return fmt.Errorf("stdout %q, want %q", data["stdout"], "hi\n")
		}
		if res, _ := data["result"].(map[string]any); taskID == sum && res["result"] != 42.0 {
			return fmt.Errorf("result %v, want 42", data["result"])
		}
		return nil
	})
	if peak > maxLoadRSS {
		t.Errorf("peak RSS %s, want under %s", mib(peak), mib(maxLoadRSS))
	}
	t.Logf("FIGURE: load: %d of %d $execute accepted from %d clients in %s (%.1f/s), all completed in %s (%.1f jobs/s); "+
		"%d concurrent reads; %d 5xx, %d transport errors; %d lost, %d duplicated",
		len(jobTask), loadJobs, loadClients, submitTime.Round(100*time.Millisecond), float64(len(jobTask))/submitTime.Seconds(),
		allDone.Round(100*time.Millisecond), float64(len(jobTask))/allDone.Seconds(),
		reads.Load(), serverErrs.Load(), otherErrs.Load(), lost, dup)
	t.Logf("FIGURE: load: %d $execute answers were 503 with Retry-After; %d keys were retried until accepted (at most %d tries each), "+
		"%d of them replayed (the refused try had started the job); %d reads answered 503 with Retry-After",
		executeRefused.Load(), executeRetried.Load(), maxExecuteTries, startedWhenRefused.Load(), readRefused.Load())
	slices.Sort(listTimes)
	if len(listTimes) > 0 {
		t.Logf("FIGURE: load: GET /jobs?page=1&size=50 under load: %d requests, p50 %s, max %s",
			len(listTimes), listTimes[len(listTimes)/2].Round(time.Millisecond), listTimes[len(listTimes)-1].Round(time.Millisecond))
	}
	t.Logf("FIGURE: load: peak RSS %s (VmHWM; %s sampled every 100 ms under load; %s at start-up, %s after), wall %s",
		mib(peak), mib(peakSampled), mib(idlePeak), mib(rss), time.Since(began).Round(time.Second))
}
